"""environment.yml and binder/ list the same packages as pyproject.toml; notebooks are listed."""
import re
import tomllib
from pathlib import Path

import pytest

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


def _proxy_entry_point():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == "sciml-lab"]
    return ep


def test_pyproject_registers_the_jupyter_proxy_server():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["entry-points"]["jupyter_serverproxy_servers"] == {"sciml-lab": "widgets.proxy:setup"}
    assert "jupyterlab" in {_name(d) for d in meta["optional-dependencies"]["test"]}


def test_proxy_entry_point_gives_a_well_formed_serve_command():
    """What jupyter-server-proxy loads: a command our own CLI parses, under the proxied prefix."""
    from jupyter_server_proxy.config import ServerProcess

    from widgets.cli import build_parser

    config = _proxy_entry_point().load()()
    cmd = config["command"]
    assert cmd[:2] == ["sciml-lab", "serve"]
    filled = [c.format(unix_socket="/tmp/x/sock", base_url="/user/me/") for c in cmd[1:]]
    args = build_parser().parse_args(filled)
    assert (args.unix_socket, args.no_show, args.prefix) == ("/tmp/x/sock", True, "/user/me/sciml-lab")
    assert config["unix_socket"] is True  # no port any page could reach
    assert config["absolute_url"] is True  # the prefix above is only right with the full path
    entry = config["launcher_entry"]
    assert entry["title"] and Path(entry["icon_path"]).is_file()
    assert Path(entry["icon_path"]).read_text().lstrip().startswith("<svg")
    # jupyter-server-proxy's own validation accepts it
    server = ServerProcess(name="sciml-lab", **config)
    assert server.launcher_entry.title == entry["title"] and server.absolute_url


@pytest.mark.bad_input("server")
def test_proxy_mode_accepts_only_the_proxys_origin_never_any():
    """The proxy stamps one origin no web page can have; the server accepts that one alone."""
    from widgets.cli import build_parser
    from widgets.proxy import PROXY_ORIGIN

    config = _proxy_entry_point().load()()
    args = build_parser().parse_args([c.format(unix_socket="/s", base_url="/") for c in config["command"][1:]])
    assert "*" not in " ".join(config["command"])
    assert args.allow_websocket_origin == [PROXY_ORIGIN] and PROXY_ORIGIN.endswith(".invalid")
    assert config["request_headers_override"] == {"Origin": f"http://{PROXY_ORIGIN}"}
