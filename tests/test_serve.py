"""``sciml-lab serve`` for others: one-line refusals, sign-in, and a runs folder per user."""
import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from browser_support import free_port, running

from widgets.cli import main
from widgets.sharing import user_runs_dir


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sciml-lab: error: ") and "Traceback" not in err
    return err


@pytest.mark.bad_input("server")
def test_a_port_out_of_range_is_one_line(capsys):
    assert "--port must be a whole number from 1 to 65535, got 99999" in _one_line_error(
        capsys, ["serve", "--no-show", "--port", "99999"])


@pytest.mark.bad_input("server")
def test_a_busy_port_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = _one_line_error(capsys, ["serve", "--no-show", "--address", "127.0.0.1", "--port", str(port)])
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err


@pytest.mark.bad_input("server")
def test_a_runs_folder_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    err = _one_line_error(capsys, ["serve", "--no-show", "--port", str(free_port()),
                                   "--runs-dir", str(tmp_path / "file" / "runs")])
    assert "the runs folder" in err and "cannot be used" in err


@pytest.mark.bad_input("server")
def test_sign_in_without_a_cookie_secret_is_refused(capsys, monkeypatch):
    monkeypatch.delenv("SCIML_LAB_COOKIE_SECRET", raising=False)
    err = _one_line_error(capsys, ["serve", "--no-show", "--port", str(free_port()), "--basic-auth", "pw"])
    assert "SCIML_LAB_COOKIE_SECRET" in err


def test_each_signed_in_user_gets_a_folder_of_their_own_inside_the_runs_folder(tmp_path):
    a, b = user_runs_dir(str(tmp_path), "ann"), user_runs_dir(str(tmp_path), "bob")
    hostile = Path(user_runs_dir(str(tmp_path), "../../etc"))
    assert a != b and Path(a).parent == hostile.parent == tmp_path / "users"
    assert user_runs_dir(str(tmp_path), "a/b") != user_runs_dir(str(tmp_path), "a_b")  # no collision


def _request(url: str, cookie: str = "", form: dict | None = None):
    """``(status, headers)`` of one request, redirects not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kw):
            return None

    data = urllib.parse.urlencode(form).encode() if form else None
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


@pytest.mark.bad_input("server")
def test_with_basic_auth_an_unauthenticated_request_gets_no_app(tmp_path):
    port = free_port()
    env = {"SCIML_LAB_COOKIE_SECRET": secrets.token_urlsafe(32), "SCIML_LAB_BASIC_AUTH": "s3cret-pw",
           "SCIML_LAB_FAST": "1", "OMP_NUM_THREADS": "1", "SCIML_LAB_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "widgets.cli", "serve", "--no-show", "--address", "127.0.0.1", "--port", str(port)]
    with running(cmd, port, tmp_path / "serve.log", env):
        base = f"http://127.0.0.1:{port}"
        status, headers = _request(base + "/")
        assert status == 302 and "login" in headers["Location"], status  # sent to sign in
        assert _request(base + "/", cookie='user="forged"')[0] == 302  # an unsigned cookie is no login
        status, headers = _request(base + "/login", form={"username": "ann", "password": "wrong"})
        assert "user=" not in (headers.get("Set-Cookie") or "")
        # the right password signs in (a signed cookie; opening the app with it would build a session)
        status, headers = _request(base + "/login", form={"username": "ann", "password": "s3cret-pw"})
        assert status == 302 and any(c.startswith("user=") and "|" in c for c in headers.get_all("Set-Cookie"))
    assert "Traceback" not in (tmp_path / "serve.log").read_text()



def _raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001  (the exception itself is what is wanted)
        return exc
    raise AssertionError("nothing was raised")


def _closed_websocket():
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    try:
        raise StreamClosedError()
    except StreamClosedError:
        raise WebSocketClosedError() from None


def test_the_server_log_leaves_out_closed_tabs_and_keeps_every_other_traceback(caplog):
    """What CI's server log held after a test closed its tab mid-message: tornado's write to the
    closed websocket, and Bokeh's assertion on a connection whose session it had let go — once
    for the tab's last message, once for its close. Another assertion still shows."""
    import logging

    from bokeh.server.connection import ServerConnection

    from widgets.closed_pages import quiet_closed_pages

    detached = ServerConnection.__new__(ServerConnection)
    detached._session = None  # as ``detach_session`` leaves it
    records = [("asyncio", "Task exception was never retrieved", _raised(_closed_websocket)),
               ("bokeh.server.protocol_handler", "error handling message", _raised(lambda: detached.session)),
               ("tornado.application", "Uncaught exception GET /ws", _raised(lambda: detached.session))]

    def ours():
        assert detached is None, "the lab's own assertion"

    def log_all():
        for name, message, exc in [*records, ("tornado.application", "Uncaught exception GET /", _raised(ours))]:
            logging.getLogger(name).error(message, exc_info=(type(exc), exc, exc.__traceback__))

    loggers = [logging.getLogger(name) for name, *_ in records]
    before = [list(logger.filters) for logger in loggers]  # a server started in this process added it
    try:
        for logger in loggers:
            logger.filters = [f for f in logger.filters if type(f).__name__ != "ClosedPage"]
        with caplog.at_level(logging.ERROR):
            log_all()
        assert len(caplog.records) == 4  # without the filter: all of them
        caplog.clear()
        quiet_closed_pages()
        quiet_closed_pages()  # once is enough: a second call adds nothing
        assert all(sum(type(f).__name__ == "ClosedPage" for f in logger.filters) == 1 for logger in loggers)
        with caplog.at_level(logging.ERROR):
            log_all()
        assert [r.getMessage() for r in caplog.records] == ["Uncaught exception GET /"]
    finally:
        for logger, filters in zip(loggers, before):
            logger.filters = filters
