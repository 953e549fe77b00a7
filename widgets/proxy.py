"""The app in JupyterLab's launcher (Binder): a jupyter-server-proxy server process.

jupyter-server-proxy finds :func:`setup` through the ``jupyter_serverproxy_servers`` entry point
(``pyproject.toml``), starts ``sciml-lab serve`` on a free port when the launcher tile or
``<jupyter>/sciml-lab/`` is opened, and forwards HTTP and websocket traffic to it. Following
Panel's recipe for this proxy, the full path is forwarded (``absolute_url``), so the Bokeh
server lives under the prefix ``{base_url}sciml-lab``, and it accepts websocket connections
from any origin, since the browser's host is the Jupyter server's (the proxy authenticates).
"""
from __future__ import annotations

from pathlib import Path

NAME = "sciml-lab"
ICON = Path(__file__).resolve().parent / "icons" / "sciml-lab.svg"


def setup() -> dict:
    """jupyter-server-proxy configuration; ``{port}`` and ``{base_url}`` are filled in by it."""
    return {
        "command": [NAME, "serve", "--no-show", "--port", "{port}",
                    "--allow-websocket-origin", "*", "--prefix", "{base_url}" + NAME],
        "absolute_url": True,
        "timeout": 180,  # first start imports torch and Panel; a cold Binder disk is slow
        "new_browser_tab": True,
        "launcher_entry": {"enabled": True, "title": "sciml-lab app", "icon_path": str(ICON)},
    }
