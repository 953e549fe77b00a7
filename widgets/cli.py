"""The installed ``sciml-lab`` command: the headless CLI of :mod:`lab.cli` plus ``serve``.

``serve`` lives here because it starts the Panel app; ``lab`` stays importable without the UI.
What ``serve`` cannot use (a port out of range or taken, a runs folder it cannot write, sign-in
without a cookie secret) is refused before the server starts, in one line (``ValueError``,
printed by :func:`lab.cli.main`). Serving to others: see :mod:`widgets.sharing`.
"""
from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from lab import cli


def check_port(address: str, port: int) -> None:
    """Refuse a port out of range, or one this address cannot listen on (taken, privileged)."""
    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be a whole number from 1 to 65535, got {port}")
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ValueError(f"--address {address!r} is not an address of this machine ({err.strerror})") from None
    for family, kind, proto, _, where in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                probe.bind(where)
            except OSError as err:
                if err.errno == errno.EADDRNOTAVAIL and where[0] == "::1":
                    continue  # no IPv6 loopback here: the server skips it as well (tornado.netutil)
                raise ValueError(f"cannot listen on {address}:{port} ({err.strerror}); another program may "
                                 "use it: choose another --port") from None


def check_folder(path: str | os.PathLike, what: str) -> None:
    """Create ``path`` if needed and refuse one that is not a writable folder."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"the {what} {folder} cannot be used: {err.strerror or err}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the {what} {folder} is not writable; choose another with --runs-dir")


def cmd_serve(args) -> int:
    from lab.training.runs import default_runs_dir
    from widgets.sharing import auth_options

    if args.unix_socket:
        check_folder(Path(args.unix_socket).parent, "socket's folder")
    else:
        check_port(args.address, args.port)
    check_folder(args.runs_dir or default_runs_dir(), "runs folder")
    auth = auth_options(args.basic_auth, args.oauth_provider, args.oauth_key, args.oauth_redirect_uri)
    from widgets.app import serve

    serve(port=args.port, show=not args.no_show, runs_dir=args.runs_dir, address=args.address,
          allow_websocket_origin=args.allow_websocket_origin, prefix=args.prefix,
          unix_socket=args.unix_socket, training=args.training, max_trainings=args.max_trainings,
          max_trainings_per_session=args.max_trainings_per_session, **auth)
    return 0


def add_serve(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve", parents=[common], help="open the lab in the browser")
    s.add_argument("--port", type=int, default=5006)
    s.add_argument("--address", default="localhost")
    s.add_argument("--unix-socket", default=None, metavar="PATH",
                   help="serve on this Unix socket instead of a port (as behind jupyter-server-proxy)")
    s.add_argument("--no-show", action="store_true", help="do not open a browser tab")
    s.add_argument("--allow-websocket-origin", action="append", default=None, metavar="HOST[:PORT]",
                   help="also accept browser sessions from this host (repeatable), e.g. behind a proxy")
    s.add_argument("--prefix", default="", help="URL path the app lives under behind a proxy")
    s.add_argument("--training", choices=("process", "thread"), default=None,
                   help="train in a worker process each (default; the server stays responsive) or in "
                        "threads of the server (lighter; default if $SCIML_LAB_TRAINING=thread)")
    s.add_argument("--max-trainings", type=int, default=None, metavar="N",
                   help="most trainings at once on this server (default: CPU cores - 1, at least 1); "
                        "more wait in a queue")
    s.add_argument("--max-trainings-per-session", type=int, default=1, metavar="N",
                   help="most trainings at once per browser session (default 1)")
    auth = s.add_argument_group("sign-in for shared servers (needs SCIML_LAB_COOKIE_SECRET; "
                                "each user then gets a runs folder of their own)")
    auth.add_argument("--basic-auth", default=None, metavar="PASSWORD|USERS.json",
                      help="ask for a password, or the passwords of a JSON file {user: password} "
                           "(or set SCIML_LAB_BASIC_AUTH, which ps does not show)")
    auth.add_argument("--oauth-provider", default=None, metavar="NAME",
                      help="sign in through Panel's OAuth provider NAME (github, google, azure, generic...); "
                           "the client secret comes from SCIML_LAB_OAUTH_SECRET")
    auth.add_argument("--oauth-key", default=None, help="OAuth client id")
    auth.add_argument("--oauth-redirect-uri", default=None, help="OAuth redirect URI of this server")
    s.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    return cli.build_parser(add_serve)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, add_serve)


if __name__ == "__main__":
    sys.exit(main())
