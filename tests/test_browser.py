"""The app in a real browser: serve it, pick Burgers, train, watch it stream, stop, find the run.

Drives Debian's Chromium through Playwright (never a downloaded browser). The server is the
real ``sciml-lab serve`` in a subprocess with its own home, cache and runs folder. What the
page shows is read from the BokehJS document (``Bokeh.documents[0]``): the loss plot's
ColumnDataSource must grow while training, and the heatmap sources must receive the field
arrays; the heatmap canvases must be painted (many distinct colours). A screenshot taken
while training becomes ``docs/screenshots/app.png``.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "screenshots" / "app.png"
WAIT_MS = 240_000  # a hang guard only: the shared CI box may be slow, nothing asserts on time

LOSS_POINTS = """() => {
  for (const m of Bokeh.documents[0].all_models) {
    const d = m.data;
    if (d && d.step && d.total) return d.total.length;
  }
  return 0;
}"""
FIELD_SIZES = """() => {
  const sizes = [];
  for (const m of Bokeh.documents[0].all_models) {
    const d = m.data;
    if (d && d.image && d.image.length) sizes.push(d.image[0].length);
  }
  return sizes;
}"""
CANVAS_COLOURS = """(canvases) => canvases.map((c) => {
  const ctx = c.getContext("2d");
  if (!ctx || !c.width || !c.height) return 0;
  const px = ctx.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < px.length; i += 4 * 7) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  return seen.size;
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the server accepts connections (a page request would build a whole session)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sciml-lab serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("localhost", port), timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"server on port {port} never listened:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    runs = tmp_path / "runs"
    env = {**os.environ, "SCIML_LAB_HOME": str(tmp_path / "home"),
           "SCIML_LAB_CACHE": str(tmp_path / "cache")}
    exe = shutil.which("sciml-lab")
    cmd = [exe] if exe else [sys.executable, "-m", "lab.cli"]
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd + ["--runs-dir", str(runs), "serve", "--no-show",
                                       "--port", str(port), "--address", "localhost"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc, log)
        yield f"http://localhost:{port}/", runs
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not on PATH (never downloaded)")
def test_train_watch_stop_and_find_the_run(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # the first page builds a whole session: slow under load

    url, runs = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1350})
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            train = page.get_by_role("button", name="Train", exact=True)
            expect(train).to_be_enabled()

            page.locator("select").first.select_option(label="Burgers 1D")
            # small training typed into the generated settings: snapshots every 10 steps
            page.get_by_role("button", name="Training", exact=True).click()
            for label, value in (("Snapshot every", "10"), ("N pde", "300")):
                box = page.locator(".bk-input-group", has_text=label).locator("input")
                box.fill(value)
                box.press("Enter")
            train.click()

            page.wait_for_function(f"({LOSS_POINTS})() >= 2")
            first = page.evaluate(LOSS_POINTS)
            page.wait_for_function(f"({LOSS_POINTS})() > {first}")  # new points stream in
            # the three training heatmaps get the 256 x 101 Burgers fields (placeholders are
            # 2 x 2); the catalogue's reference preview may add a fourth
            page.wait_for_function(f"({FIELD_SIZES})().filter((n) => n > 4).length >= 3")
            page.wait_for_timeout(1500)  # let the canvases paint
            colours = page.locator("canvas").evaluate_all(CANVAS_COLOURS)
            assert sum(c > 100 for c in colours) >= 3, colours  # painted, not blank
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            page.get_by_role("button", name="Stop", exact=True).click()
            expect(train).to_be_enabled()
            page.locator(".bk-tab", has_text="Saved runs").click()
            row = page.locator(".tabulator-row", has_text="stopped")  # the catalogue lists burgers too
            expect(row).to_have_count(1)
            expect(row).to_contain_text("burgers")
        finally:
            browser.close()
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["step"] >= first
    assert (run / "checkpoint.safetensors").is_file()
