"""A trained model of the zoo, opened in the served app.

Saved runs → pick ``burgers-pinn`` among the trained models → *Load a trained model*: the Training
tab then shows that run as a saved run opens: the loss plot holds its logged history, the status
names the entry and its problem, and the three heatmaps hold the 256 x 101 Burgers fields and are
painted. The screenshot becomes ``docs/screenshots/zoo_loaded_1280x800.png``.
"""
from __future__ import annotations

import re

import pytest
from browser_support import (CANVAS_COLOURS, FIELD_SIZES, LOSS_POINTS, WAIT_MS, launch, needs_chromium,
                             press, record_page_errors, screenshot, served_lab)

pytestmark = [pytest.mark.browser, needs_chromium]

ENTRY = "burgers-pinn"


def test_a_zoo_model_loaded_from_saved_runs_is_shown_in_training(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with served_lab(tmp_path) as (url, _runs), sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = record_page_errors(page)
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()

        page.locator(".bk-tab", has_text="Saved runs").click()
        picker = page.get_by_role("combobox", name="Trained models (zoo)")
        label = picker.locator("option", has_text=f"{ENTRY} —").text_content()  # name — problem · model · error
        picker.select_option(label=label)
        status = page.locator("p:visible", has_text=re.compile(
            rf"Trained model {ENTRY} from the zoo .* Burgers 1D at step \d+"))
        press(page, "Load a trained model", lambda timeout: expect(status).to_have_count(1, timeout=timeout))

        expect(page.locator(".bk-tab.bk-active", has_text="Training")).to_have_count(1)
        page.wait_for_function(f"({LOSS_POINTS})() > 100")  # its logged history (800 rows)
        # the prediction, reference and error heatmaps hold the Burgers grid (placeholders are 2 x 2)
        page.wait_for_function(f"({FIELD_SIZES})().filter((n) => n > 4).length >= 3")
        page.wait_for_timeout(1500)  # let the canvases paint
        colours = page.locator("canvas").evaluate_all(CANVAS_COLOURS)
        assert sum(c > 100 for c in colours) >= 3, colours  # painted, not blank
        status.evaluate("(p) => p.scrollIntoView({block: 'start'})")  # the status, losses and fields
        page.wait_for_timeout(500)
        screenshot(page, "zoo_loaded_1280x800")
        browser.close()
        assert not errors, errors  # the page stayed in step with the server
