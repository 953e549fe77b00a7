"""Shared helpers of the browser tests: Debian's Chromium via Playwright, a served lab, probes.

Never downloads a browser: tests using these are skipped where ``chromium`` is not on PATH.
Servers run as real subprocesses with their own home, cache and runs folder; what the page shows
is read from the BokehJS document (``Bokeh.documents[0]``) and from painted canvases.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium")
#: ``--disable-dev-shm-usage``: a container's /dev/shm may be too small for the renderer
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
WAIT_MS = 240_000  # a hang guard only: the shared CI box may be slow, nothing asserts on time

needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="Debian chromium is not on PATH (never downloaded)")

#: rows in the loss plot's source (the training view's Buffer has ``step`` and ``total``)
LOSS_POINTS = """() => {
  for (const m of Bokeh.documents[0].all_models) {
    const d = m.data;
    if (d && d.step && d.total) return d.total.length;
  }
  return 0;
}"""
#: the size of each image source's image (placeholders are 2 x 2, fields hold the grid)
FIELD_SIZES = """() => {
  // one image per source: a list of arrays, or one ndarray of shape (1, rows, columns)
  const sizes = [];
  for (const m of Bokeh.documents[0].all_models) {
    const im = m.data && m.data.image;
    if (!im || !im.length) continue;
    if (im.shape && im.shape.length === 3) sizes.push(im.length / im.shape[0]);
    else if (im[0] && im[0].length !== undefined) sizes.push(im[0].length);
  }
  return sizes;
}"""
#: distinct colours (sampled every 7th pixel) on each 2D canvas; blank or cleared canvases give ~1
CANVAS_COLOURS = """(canvases) => canvases.map((c) => {
  const ctx = c.getContext("2d");
  if (!ctx || !c.width || !c.height) return 0;
  const px = ctx.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < px.length; i += 4 * 7) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  return seen.size;
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the server accepts connections (a page request would build a whole session)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("localhost", port), timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"server on port {port} never listened:\n{log.read_text()}")


@contextlib.contextmanager
def running(cmd: list[str], port: int, log: Path, env: dict | None = None,
            cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """Run a server subprocess until the block ends; fail early if it dies before listening."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # the server's own account: pytest shows captured output only for a failing test
        lines = log.read_text(errors="replace").splitlines()
        first = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
        if first is not None and first < len(lines) - 150:  # the first error, before the tail
            print(f"--- {' '.join(cmd[:2])} log: its first traceback ---")
            print("\n".join(lines[max(first - 5, 0):first + 60]))
        print(f"--- {' '.join(cmd[:2])} log (last 150 lines) ---")
        print("\n".join(lines[-150:]))


@contextlib.contextmanager
def served_lab(tmp: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """``sciml-lab serve [args]`` on a free port with home, cache and runs in ``tmp``: (url, runs dir).
    Its log must end without a traceback: what goes wrong in a session is shown to its user."""
    port = free_port()
    runs = tmp / "runs"
    exe = shutil.which("sciml-lab")
    cmd = ([exe] if exe else [sys.executable, "-m", "widgets.cli"]) + [
        "serve", "--no-show", "--port", str(port), "--address", "localhost", "--runs-dir", str(runs), *args]
    env = {"SCIML_LAB_HOME": str(tmp / "home"), "SCIML_LAB_CACHE": str(tmp / "cache")}
    try:
        with running(cmd, port, tmp / "server.log", env):
            yield f"http://localhost:{port}/", runs
        log = (tmp / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, f"the server logged a traceback:\n{log[-5000:]}"
    finally:  # where each run got to: shown with the server log when a test fails
        for run in sorted(runs.glob("*/")):
            rows = (run / "metrics.jsonl").read_text(errors="replace").splitlines() \
                if (run / "metrics.jsonl").exists() else []
            print(f"--- run {run.name}: {len(rows)} metric rows, last {rows[-1] if rows else None}; "
                  f"files {sorted(p.name for p in run.iterdir())}")


def record_page_errors(page) -> list[str]:
    """Collect the page's uncaught script errors. A BokehJS document out of step with the
    server says "reference … isn't known" and from then on drops that view's updates."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("crash", lambda _page: errors.append("the page's renderer crashed"))
    return errors


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def record_off_host_requests(page, requests: list | None = None) -> list:
    """Collect the page's requests to any host but this machine (Playwright ``Request``s) into
    ``requests`` (a new list by default). The lab's users may be offline: there such a request
    fails or hangs, and a script that never arrives can leave the views empty. ``data:`` and
    ``blob:`` URLs are the page's own."""
    requests = [] if requests is None else requests

    def check(request) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname not in LOCAL_HOSTS:
            requests.append(request)

    page.on("request", check)
    return requests


def launch(pw):
    """Headless Debian Chromium (software rendering, no network beyond the local servers)."""
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def settings_input(page, label: str):
    """The visible input box of the generated settings forms whose label is exactly ``label``
    (views of other tabs stay in the page, hidden, with fields of the same names)."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return page.locator(".bk-input-group").filter(
        has=page.locator("label", has_text=exact)).locator("input:visible")


def training_started(page, probe: str = LOSS_POINTS):
    """Train acted on: the run's plot (``probe``) has a point."""
    return lambda timeout: page.wait_for_function(f"({probe})() > 0", timeout=timeout)


def run_going(page):
    """Train acted on: a run is going or queued (the sidebar's Stop is enabled)."""
    from playwright.sync_api import expect

    return lambda timeout: expect(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled(timeout=timeout)


def training_ended(page):
    """Stop acted on: Train is enabled again (at once) and the run has ended (its status no
    longer says that it is saving its checkpoint)."""
    from playwright.sync_api import expect

    def ended(timeout):
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=timeout)
        expect(page.get_by_text(STOPPING)).to_have_count(0, timeout=timeout)
    return ended


#: the status of a run between Stop and its end
STOPPING = "saving its checkpoint"


#: how long a press may take to show before it is repeated (see ``press``)
PRESS_MS = 60_000


def press(page, name: str, acted, tries: int = 3) -> None:
    """Click the button ``name`` until ``acted(timeout_ms)`` passes.

    On a loaded two-core box a click on Train or Stop was now and then never acted on by the
    server (no run started, no error logged, the page otherwise live); a user clicks again, and
    so does this, after ``PRESS_MS`` while the button is still enabled. The last try waits the
    whole hang guard, and its failure fails the test."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    button = page.get_by_role("button", name=name, exact=True)
    for attempt in range(tries):
        last = attempt == tries - 1
        if attempt == 0 or button.is_enabled():
            button.click()
        try:
            acted(WAIT_MS if last else PRESS_MS)
            return
        except (AssertionError, PlaywrightTimeout):
            if last:
                raise


def type_setting(page, label: str, value) -> None:
    box = settings_input(page, label)
    box.fill(str(value))
    box.press("Enter")


def screenshot(page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
