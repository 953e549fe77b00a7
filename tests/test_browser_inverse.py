"""In a real browser: mark Burgers' ν trainable, train briefly on drawn sensors, and see the
estimate plotted against the truth and the sensors over the predicted field."""
from __future__ import annotations

import pytest
from browser_support import (WAIT_MS, launch, needs_chromium, press, record_page_errors, screenshot,
                             served_lab, settings_input, training_started, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]

#: rows of the estimate-vs-truth plot (its dashed line's column ``nu true``, as Bokeh names it)
ESTIMATE_POINTS = """() => {
  let n = 0;
  for (const m of Bokeh.documents[0].all_models) {
    const key = m.data && Object.keys(m.data).find((k) => /^nu.true$/.test(k));
    if (key) n = Math.max(n, m.data[key].length);
  }
  return n;
}"""
#: sensors drawn over the prediction: a point source of 50 positions
SENSORS_SHOWN = """() => Array.from(Bokeh.documents[0].all_models).some(
  (m) => m.data && m.data.t && m.data.x && !m.data.image && m.data.x.length === 50)"""


def test_a_parameter_marked_trainable_is_recovered_live_and_the_sensors_are_drawn(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with served_lab(tmp_path) as (url, _runs), sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_context(viewport={"width": 1440, "height": 1400}).new_page()
        errors = record_page_errors(page)
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.goto(url)
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
        type_setting(page, "Nu", "0.1")  # a smooth solution: a reference solved in a moment
        page.get_by_role("button", name="Learning from data", exact=True).click()
        page.get_by_role("combobox", name="Recover parameter").select_option(label="nu")
        expect(settings_input(page, "Sensors")).to_have_value("50")  # observations come with it
        guess = page.locator(".bk-input-group").filter(has_text="Initial guess").locator("input:visible")
        guess.fill("5")  # ν lives in [0.0001, 1]
        guess.press("Enter")
        alert = page.locator("#sidebar .alert-danger:visible")
        expect(alert).to_contain_text("initial guess of Nu must be from 0.0001 to 1")
        guess.fill("0.04")
        guess.press("Enter")
        expect(alert).to_have_count(0)
        page.get_by_role("button", name="Training", exact=True).click()
        for label, value in (("Steps", 60), ("N pde", 200), ("Snapshot every", 20)):
            type_setting(page, label, value)
        press(page, "Train", training_started(page, ESTIMATE_POINTS))
        page.wait_for_function(f"({ESTIMATE_POINTS})() >= 6")  # 60 steps, logged every 10
        page.wait_for_function(SENSORS_SHOWN)
        title = page.get_by_text("Recovered parameters: estimate vs truth")
        expect(title).to_be_visible()
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
        title.scroll_into_view_if_needed()
        screenshot(page, "inverse_burgers_nu")
        browser.close()
        assert not errors, errors
