"""The installed ``sciml-lab`` command: the headless CLI of :mod:`lab.cli` plus ``serve``.

``serve`` lives here because it starts the Panel app; ``lab`` stays importable without the UI.
"""
from __future__ import annotations

import argparse
import sys

from lab import cli


def cmd_serve(args) -> int:
    from widgets.app import serve

    serve(port=args.port, show=not args.no_show, runs_dir=args.runs_dir, address=args.address,
          allow_websocket_origin=args.allow_websocket_origin, prefix=args.prefix,
          training=args.training, max_trainings=args.max_trainings,
          max_trainings_per_session=args.max_trainings_per_session)
    return 0


def add_serve(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve", parents=[common], help="open the lab in the browser")
    s.add_argument("--port", type=int, default=5006)
    s.add_argument("--address", default="localhost")
    s.add_argument("--no-show", action="store_true", help="do not open a browser tab")
    s.add_argument("--allow-websocket-origin", action="append", default=None, metavar="HOST[:PORT]",
                   help="also accept browser sessions from this host (repeatable; '*' for any), "
                        "e.g. behind a proxy")
    s.add_argument("--prefix", default="", help="URL path the app lives under behind a proxy")
    s.add_argument("--training", choices=("process", "thread"), default=None,
                   help="train in a worker process each (default; the server stays responsive) or in "
                        "threads of the server (lighter; default if $SCIML_LAB_TRAINING=thread)")
    s.add_argument("--max-trainings", type=int, default=None, metavar="N",
                   help="most trainings at once on this server (default: CPU cores - 1, at least 1); "
                        "more wait in a queue")
    s.add_argument("--max-trainings-per-session", type=int, default=1, metavar="N",
                   help="most trainings at once per browser session (default 1)")
    s.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    return cli.build_parser(add_serve)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, add_serve)


if __name__ == "__main__":
    sys.exit(main())
