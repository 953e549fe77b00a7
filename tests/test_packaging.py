"""environment.yml and binder/ list the same packages as pyproject.toml; notebooks are listed."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def _pyproject_deps() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(d) for d in meta["dependencies"]}


def _conda_deps() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in text.splitlines():
        m = re.match(r"^\s{2}- ([A-Za-z0-9_.-]+)", line)
        if m and m.group(1) not in {"python", "pip"}:
            names.add(m.group(1).lower())
    return names


def _binder_deps() -> set[str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return {_name(x) for x in lines if x.strip() and not x.startswith(("#", "-"))}


def test_environment_yml_matches_pyproject():
    expected = {CONDA_NAMES.get(n, n) for n in _pyproject_deps()}
    assert _conda_deps() == expected


def test_binder_requirements_cover_pyproject_and_jupyter():
    binder = _binder_deps()
    assert _pyproject_deps() <= binder
    assert {"jupyterlab", "jupyter-server-proxy"} <= binder
    assert "-e ." in (ROOT / "binder" / "requirements.txt").read_text()


def test_every_notebook_is_part_of_the_course():
    listed = (ROOT / "notebooks" / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert nb.name in listed, f"{nb.name} is missing from notebooks/README.md"
