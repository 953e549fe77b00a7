"""In a real browser: pick the L-shape problem, train a PINN briefly and see its field — drawn
on the L (blank in the notch) — and the catalogue's drawing of the domain's boundary parts."""
from __future__ import annotations

import pytest
from browser_support import (WAIT_MS, launch, needs_chromium, press, record_off_host_requests,
                             record_page_errors, screenshot, served_lab, settings_input,
                             training_started, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]

#: images that hold both blank (NaN, outside the domain) and drawn values: fields on the L
SHAPED_IMAGES = """() => {
  let n = 0;
  for (const m of Bokeh.documents[0].all_models) {
    const img = m.data && m.data.image;
    if (!img || !img.length) continue;
    const a = img[0];
    const flat = a.flat ? a.flat(2) : Array.from(a);
    if (flat.some(Number.isNaN) && flat.some(Number.isFinite)) n += 1;
  }
  return n;
}"""

#: the catalogue's domain plot: a legend entry per boundary part
PARTS_SHOWN = """() => Array.from(Bokeh.documents[0].all_models).some(
  (m) => m.label && m.label.value === "boundary: notch")"""


def test_the_l_shape_trains_and_its_field_is_drawn_on_the_l(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with served_lab(tmp_path) as (url, _runs), sync_playwright() as pw:
        browser = launch(pw)
        expect.set_options(timeout=WAIT_MS)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        errors = record_page_errors(page)
        off_host = record_off_host_requests(page)
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
        page.locator("select").nth(0).select_option(label="Laplace on an L-shape (corner singularity)")
        page.wait_for_function(PARTS_SHOWN)  # the catalogue draws the domain and its parts
        page.get_by_role("button", name="Training", exact=True).click()
        settings_input(page, "Steps").wait_for()
        for label, value in (("Steps", 40), ("N pde", 200), ("N bc", 64), ("Snapshot every", 20)):
            type_setting(page, label, value)
        press(page, "Train", training_started(page))
        # prediction, reference and error on the L (the catalogue's preview is one more)
        page.wait_for_function(f"({SHAPED_IMAGES})() >= 4")
        screenshot(page, "lshape_training")
        browser.close()
    assert not errors, errors
    assert not off_host, [r.url for r in off_host]
