"""The app in a real browser: serve it, pick Burgers, train, watch it stream, stop, find the run.

Drives Debian's Chromium through Playwright (never a downloaded browser). The server is the
real ``sciml-lab serve`` in a subprocess with its own home, cache and runs folder. What the
page shows is read from the BokehJS document (``Bokeh.documents[0]``): the loss plot's
ColumnDataSource must grow while training, and the heatmap sources must receive the field
arrays once the run is stopped (its final state is always drawn); the heatmap canvases must be
painted (many distinct colours). The screenshot becomes ``docs/screenshots/app.png``.
"""
from __future__ import annotations

import json

import pytest
from browser_support import (CANVAS_COLOURS, FIELD_SIZES, LOSS_POINTS, SCREENSHOTS, WAIT_MS, launch,
                             needs_chromium, press, record_page_errors, served_lab, training_ended, training_started,
                             type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def server(tmp_path):
    with served_lab(tmp_path) as (url, runs):
        yield url, runs


def test_train_watch_stop_and_find_the_run(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # the first page builds a whole session: slow under load

    url, runs = server
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1350})
            errors = record_page_errors(page)
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            train = page.get_by_role("button", name="Train", exact=True)
            expect(train).to_be_enabled()

            page.locator("select").first.select_option(label="Burgers 1D")
            # small training typed into the generated settings: snapshots every 10 steps
            page.get_by_role("button", name="Training", exact=True).click()
            for label, value in (("Snapshot every", "10"), ("N pde", "300")):
                type_setting(page, label, value)  # the sidebar's field (the NTK tab has an "N pde" too)
            press(page, "Train", training_started(page))
            page.wait_for_function(f"({LOSS_POINTS})() >= 2")
            first = page.evaluate(LOSS_POINTS)
            page.wait_for_function(f"({LOSS_POINTS})() > {first}")  # new points stream in

            press(page, "Stop", training_ended(page))
            # the final state is always drawn: the three training heatmaps hold the 256 x 101
            # Burgers fields (placeholders are 2 x 2); the catalogue's preview may add a fourth
            page.wait_for_function(f"({FIELD_SIZES})().filter((n) => n > 4).length >= 3")
            page.wait_for_timeout(1500)  # let the canvases paint
            colours = page.locator("canvas").evaluate_all(CANVAS_COLOURS)
            assert sum(c > 100 for c in colours) >= 3, colours  # painted, not blank
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "app.png"))

            page.locator(".bk-tab", has_text="Saved runs").click()
            row = page.locator(".tabulator-row", has_text="stopped")  # the catalogue lists burgers too
            expect(row).to_have_count(1)
            expect(row).to_contain_text("burgers")
            assert not errors, errors  # the page stayed in step with the server
        finally:
            browser.close()
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["step"] >= first
    assert (run / "checkpoint.safetensors").is_file()
