"""What lets the lab run with no network: nothing in a page or a notebook output comes off-host.

The lab is used offline (laptops, firewalled Binder). Two Panel details fetched or broke things
there: the Fast design links a Google Fonts stylesheet (:class:`OfflineFast` drops it), and the
inline notebook loader cut vtk.js apart (:func:`indent_at_newlines_only` mends it).
"""
from __future__ import annotations

from markupsafe import Markup
from panel.theme import Fast


class OfflineFast(Fast):
    """Panel's Fast design without its one off-host file, the Open Sans stylesheet of Google Fonts.

    Offline, the browser's request to fonts.googleapis.com fails or hangs. Every other file of
    the design is served by Panel itself; the text keeps the design's font stack (Open Sans
    where installed, else sans-serif).
    """

    #: Panel adds the design's ``font`` entries to every page it serves
    _resources = {kind: files for kind, files in Fast._resources.items() if kind != "font"}

    def resolve_resources(self, cdn="auto", extras=None, include_theme=True):
        # Fast's own files are bundled under Fast's name, so they are resolved as Fast's
        resources = Fast(theme=type(self.theme)).resolve_resources(cdn, extras, include_theme)
        for name in Fast._resources.get("font", {}):
            resources["css"].pop(name, None)
        return resources


def _indent(s, width=4, first=False, blank=False):
    """Jinja's ``indent`` filter, splitting at newline characters only.

    Jinja splits as ``str.splitlines`` does, also at U+0085 and U+2028 inside the string
    literals of an inlined script (vtk.js has them): the pieces then get indented and the
    literal is cut, so Panel's whole inline loader became a syntax error and nothing rendered.
    """
    pad = width if isinstance(width, str) else " " * width
    lines = str(s).split("\n")
    if blank:
        text = ("\n" + pad).join(lines)
    else:
        text = lines[0] + "".join("\n" + (pad + line if line else line) for line in lines[1:])
    text = pad + text if first else text
    return Markup(text) if isinstance(s, Markup) else text  # markup stays markup, unescaped


def indent_at_newlines_only() -> None:
    """Use :func:`_indent` in Panel's templates (their Jinja environment is module state), so
    an inline notebook loader keeps every script whole."""
    from panel.io import resources

    resources._env.filters["indent"] = _indent
