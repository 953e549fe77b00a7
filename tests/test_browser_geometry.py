"""In a real browser: pick the L-shape problem, train a PINN briefly and see its field — drawn
on the L (blank in the notch) — and the catalogue's drawing of the domain's boundary parts; then
the cylinder flow (on its mesh's triangles), the 3D shell and the operator on moving holes."""
from __future__ import annotations

import pytest
from browser_support import (WAIT_MS, launch, needs_chromium, press, record_off_host_requests,
                             record_page_errors, screenshot, served_lab, settings_input,
                             training_started, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def lab_page(tmp_path):
    """``(page, errors, off_host)``: a served lab open in Chromium, with what the page reports."""
    from playwright.sync_api import expect, sync_playwright

    with served_lab(tmp_path) as (url, _runs), sync_playwright() as pw:
        browser = launch(pw)
        expect.set_options(timeout=WAIT_MS)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        errors, off_host = record_page_errors(page), record_off_host_requests(page)
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
        yield page, errors, off_host
        browser.close()



def images_where(test: str) -> str:
    """A probe: how many image sources' (flattened) image ``flat`` passes the JS ``test``."""
    return """() => {
  let n = 0;
  for (const m of Bokeh.documents[0].all_models) {
    const img = m.data && m.data.image;
    if (!img || !img.length) continue;
    const a = img[0];
    const flat = a.flat ? a.flat(2) : Array.from(a);
    if (%s) n += 1;
  }
  return n;
}""" % test


#: images that hold both blank (NaN, outside the domain) and drawn values: fields on the L
SHAPED_IMAGES = images_where("flat.some(Number.isNaN) && flat.some(Number.isFinite)")

#: the catalogue's domain plot: a legend entry per boundary part
PARTS_SHOWN = """() => Array.from(Bokeh.documents[0].all_models).some(
  (m) => m.label && m.label.value === "boundary: notch")"""


def test_the_l_shape_trains_and_its_field_is_drawn_on_the_l(lab_page):
    page, errors, off_host = lab_page
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
    assert not errors, errors
    assert not off_host, [r.url for r in off_host]


#: triangulated fields (a patch per triangle of the reference's mesh): prediction, reference, error
MESH_FIELDS = """() => Array.from(Bokeh.documents[0].all_models).filter(
  (m) => m.data && m.data.xs && m.data.xs.length > 1000).length"""

#: a vtk.js scene or volume (the catalogue's 3D preview)
VTK_SHOWN = """() => Array.from(Bokeh.documents[0].all_models).some(
  (m) => /VTK/.test([m.type, m.constructor.__qualified__, m.constructor.__name__].join(" ")))"""

#: drawn images of the operator's grid (32 x 32 by default): its input, truth, prediction and error
OPERATOR_IMAGES = images_where("flat.length === 1024 && flat.some((v) => v !== 0)")


def test_the_cylinder_flow_the_shell_and_the_moving_hole_train_and_show_their_fields(lab_page):
    """Three views of a field off a box: on the triangles of a finite-element mesh (the cylinder
    flow), on slices of a 3D domain previewed as a vtk.js scene (the shell), and on the masked
    grid of an operator over a family of domains (the moving hole)."""
    from playwright.sync_api import expect

    page, errors, _ = lab_page
    train = page.get_by_role("button", name="Train", exact=True)

    def pick_and_train(title: str, preview: str | None, settings: tuple, shown: str) -> None:
        page.locator(".bk-tab", has_text="Catalogue").click()  # Train moves to the Training tab
        page.locator("select").nth(0).select_option(label=title)
        if preview:
            page.wait_for_function(preview)
        for label, value in settings:
            type_setting(page, label, value)
        expect(page.locator(".alert-danger:visible")).to_have_count(0)  # every value accepted
        press(page, "Train", lambda timeout: page.wait_for_function(shown, timeout=timeout))
        expect(train).to_be_enabled()  # the run has ended

    page.get_by_role("button", name="Training", exact=True).click()
    settings_input(page, "Steps").wait_for()
    short = (("Steps", 20), ("N pde", 200), ("N bc", 64), ("Snapshot every", 10))
    pick_and_train("Stokes flow past a cylinder (FEM)", PARTS_SHOWN.replace("notch", "cylinder"), short,
                   f"({MESH_FIELDS})() >= 3")
    screenshot(page, "stokes_cylinder_training")
    pick_and_train("Poisson in a spherical shell (3D, insulated core)", VTK_SHOWN, short,
                   f"({SHAPED_IMAGES})() >= 3")  # a z slice of the shell: blank in the core
    pick_and_train("Plate with a moving hole (FNO on a masked grid)", None,
                   (("Batch size", 4), ("N train", 8), ("N val", 4), ("Modes", 8), ("Width", 16),
                    ("Steps", 20), ("Snapshot every", 10)), f"({OPERATOR_IMAGES})() >= 3")
    screenshot(page, "plate_hole_operator_training")
    # the shell's 3D preview, hidden by its run's tab, then left for the plate: the catalogue
    # keeps its 3D views in the page (vtk.js threw "getInteractor" of undefined when one left it)
    assert not errors, errors
