"""What lets the lab run with no network: nothing in a page or a notebook output comes off-host.

The lab is used offline (laptops, firewalled Binder). Four Panel details fetched or broke things
there: the Fast design links a Google Fonts stylesheet (:class:`OfflineFast` drops it), the
inline notebook loader cut vtk.js apart (:func:`indent_at_newlines_only` mends it), a view
changed after it was displayed in a notebook linked Panel's stylesheets from its CDN again
(:func:`inline_stylesheets_on_update` keeps them inline), and a served page that loaded slowly
got a session whose stylesheets came from the CDN (:func:`serve_stylesheets_locally`).
"""
from __future__ import annotations

import weakref

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


def serve_stylesheets_locally(doc) -> None:
    """Let every view of a served session link Panel's stylesheets from the lab's own server.

    Panel points a session's stylesheets at its server only when it writes the page's HTML for
    that session; until then they name cdn.holoviz.org. A page whose scripts arrive after the
    unused-session timeout (a slow link, a loaded server) connects to a session that Bokeh
    creates afresh for the websocket, whose HTML is never written: its views then fetched
    loading.css, markdown.css, tabulator's theme... from the CDN, and offline they stayed
    unstyled. Called when a session is built, before its views exist.
    """
    from panel.io.resources import LOCAL_DIST
    from panel.io.state import set_curdoc, state

    with set_curdoc(doc):
        dist_url = f"{state.rel_path}/{LOCAL_DIST}" if state.rel_path else LOCAL_DIST
    doc._template_variables.setdefault("dist_url", dist_url)


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


#: the inline sheets made for each document, by URL
_INLINED = weakref.WeakKeyDictionary()


def _inline(stylesheets: list, doc) -> list:
    """``stylesheets`` with Panel's own CDN files as inline sheets, one object per file and
    document (a sheet the browser already has is not sent again)."""
    from bokeh.models import ImportedStyleSheet
    from panel.io.notebook import replace_inline_css

    cache = _INLINED.setdefault(doc, {}) if doc is not None else {}
    out = []
    for sheet in stylesheets:
        if isinstance(sheet, ImportedStyleSheet):
            url = sheet.url
            if url not in cache:
                cache[url] = replace_inline_css(sheet)
            sheet = cache[url]
        out.append(sheet)
    return out


def inline_stylesheets_on_update() -> None:
    """Keep Panel's own stylesheets inline when a view displayed in a notebook changes.

    Panel inlines them when an output is first rendered. A model made or refreshed later takes
    its properties from ``Reactive._get_properties``, which links them from cdn.holoviz.org:
    a Markdown or LaTeX pane given new text, a pane added to a layout. Every problem switch of
    the app then fetched loading.css, markdown.css, katex.css and the theme. With
    ``config.inline`` (what :func:`extension` sets) that method gives inline sheets instead.
    Panel's classes are module state, so the method is wrapped once.
    """
    from panel.config import config
    from panel.reactive import Reactive

    get_properties = Reactive._get_properties
    if getattr(get_properties, "inlines_stylesheets", False):
        return

    def _get_properties(self, doc):
        props = get_properties(self, doc)
        if config.inline and "stylesheets" in props:
            props["stylesheets"] = _inline(props["stylesheets"], doc)
        return props

    _get_properties.inlines_stylesheets = True
    Reactive._get_properties = _get_properties
