"""Build the API reference of ``lab`` from its docstrings, with pdoc.

    python docs/build_api.py [OUTPUT_DIR]      # default: docs/api

The reference covers the public API: ``lab``'s own page lists the names users type (its
``__all__``), and the modules of :data:`PUBLIC` — those the notebooks and the README import
from — get a page each (a name starting with ``_`` is private and left out). The other modules
are the lab's inside: importable, not promised. A module that fails to import, or a warning of
pdoc's (an unreadable docstring, a broken reference), is an error: the reference documents the
code as it runs.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pdoc

ROOT = Path(__file__).resolve().parents[1]


#: the modules of the public API, in the order of the reference's index
PUBLIC = (
    "lab",
    "lab.problems", "lab.problems.base", "lab.problems.domain", "lab.problems.custom",
    "lab.problems.operators",
    "lab.models",
    "lab.training", "lab.training.events", "lab.training.config",
    "lab.session", "lab.zoo", "lab.config", "lab.device",
    "lab.data.datasets",
    "lab.solvers", "lab.solvers.time_stepping", "lab.solvers.etdrk4", "lab.solvers.navier_stokes",
    "lab.diagnostics", "lab.diagnostics.metrics", "lab.diagnostics.spectra",
    "lab.diagnostics.attractors", "lab.diagnostics.hessian", "lab.diagnostics.landscape",
    "lab.diagnostics.ntk",
    "lab.io", "lab.studies", "lab.nn",
)


def build(output: Path) -> list[str]:
    """Write the HTML reference into ``output``; the documented module names."""
    output = Path(output)
    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=False,
                          footer_text="sciml-lab API reference")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an import failure or a pdoc warning stops the build
        # pdoc.pdoc() would follow each package's ``__all__`` and skip the modules it leaves
        # out: they are listed above, and rendered as it does
        docs = {name: pdoc.doc.Module.from_name(name) for name in PUBLIC}
        for name, module in docs.items():
            page = output / f"{name.replace('.', '/')}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(pdoc.render.html_module(module, docs), encoding="utf-8")
        (output / "index.html").write_text(pdoc.render.html_index(docs), encoding="utf-8")
        (output / "search.js").write_text(pdoc.render.search_index(docs), encoding="utf-8")
    return list(docs)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else ROOT / "docs" / "api"
    modules = build(out)
    print(f"API reference of {len(modules)} modules in {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
