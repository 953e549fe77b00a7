"""The app in JupyterLab's launcher (Binder): a jupyter-server-proxy server process.

jupyter-server-proxy finds :func:`setup` through the ``jupyter_serverproxy_servers`` entry point
(``pyproject.toml``), starts ``sciml-lab serve`` on a free port when the launcher tile or
``<jupyter>/sciml-lab/`` is opened, and forwards HTTP and websocket traffic to it. Following
Panel's recipe for this proxy, the full path is forwarded (``absolute_url``), so the Bokeh
server lives under the prefix ``{base_url}sciml-lab``.

No port is opened: the server listens on a Unix socket that only the proxy (and the user's own
processes) can reach, so the proxy, which checks the Jupyter login, is the only way in. The
proxy passes the browser's ``Origin`` header on, which names the Jupyter server's host (unknown
here); it is replaced by :data:`PROXY_ORIGIN`, the one origin the server accepts, which no web
page can have (``.invalid`` never resolves, RFC 2606): no other page can open a session.
"""
from __future__ import annotations

from pathlib import Path

NAME = "sciml-lab"
ICON = Path(__file__).resolve().parent / "icons" / "sciml-lab.svg"
PROXY_ORIGIN = "jupyter-server-proxy.invalid"


def setup() -> dict:
    """jupyter-server-proxy configuration; ``{unix_socket}`` and ``{base_url}`` are filled in by it."""
    return {
        "command": [NAME, "serve", "--no-show", "--unix-socket", "{unix_socket}",
                    "--allow-websocket-origin", PROXY_ORIGIN, "--prefix", "{base_url}" + NAME],
        "unix_socket": True,
        "request_headers_override": {"Origin": f"http://{PROXY_ORIGIN}"},
        "absolute_url": True,
        "timeout": 180,  # first start imports torch and Panel; a cold Binder disk is slow
        "new_browser_tab": True,
        "launcher_entry": {"enabled": True, "title": "sciml-lab app", "icon_path": str(ICON)},
    }
