"""What a person sees in the app, one short flow per capability, in a real browser.

One ``sciml-lab serve`` (a subprocess with its own home, cache and runs folder) serves every
flow; each flow opens its own page (its own session), types tiny sizes into the generated
settings forms, and asserts on what the page shows: the alert's text, the BokehJS data sources
that feed the plots (they must receive points while a model trains), painted canvases (2D ones
read back, vtk.js's WebGL ones from the page's pixels), and that the page fetched nothing from
another host (the lab's users may be offline). Each flow leaves a screenshot in
``docs/screenshots/<flow>.png`` (the README shows them). Nothing asserts on time: every wait is a
hang guard only, since the CI box has two shared cores.
"""
from __future__ import annotations

import io
import re

import pytest
from browser_support import (LOSS_POINTS, WAIT_MS, launch, needs_chromium, press,
                             record_off_host_requests, record_page_errors, screenshot, served_lab,
                             settings_input, training_ended, training_started, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]

#: rows in the operator view's training curve (the batch relative L2 per logged step)
OPERATOR_POINTS = """() => {
  let n = 0;
  for (const m of Bokeh.documents[0].all_models) {
    const d = m.data;
    if (d && d.step && d.rel_l2) n = Math.max(n, d.rel_l2.length);
  }
  return n;
}"""


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    with served_lab(tmp_path_factory.mktemp("lab")) as (url, _runs):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


@pytest.fixture
def off_host() -> list:
    """The requests the flow's page sent to another host (filled in by ``page``)."""
    return []


@pytest.fixture
def page(browser, lab_url, off_host):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": 1440, "height": 1200})
    page = context.new_page()
    errors = record_page_errors(page)
    record_off_host_requests(page, off_host)
    page.set_default_timeout(WAIT_MS)
    page.goto(lab_url)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    yield page
    stop = page.get_by_role("button", name="Stop", exact=True)
    if stop.is_enabled():  # leave no run behind on the shared server
        stop.click(force=True)  # the run may end (disabling Stop) between the check and the click
    context.close()
    assert not errors, errors  # the page stayed in step with the server
    assert not off_host, [r.url for r in off_host]  # every file came from the lab's server


#: whether an image source holds the 7 x 7 loss-landscape grid (the flow's resolution)
LANDSCAPE_SHOWN = """() => Array.from(Bokeh.documents[0].all_models).some(
  (m) => m.data && m.data.image && m.data.image.length && m.data.image[0].length === 49)"""


def _visible_button(page, label: str):
    """The one visible button named ``label`` (hidden tabs hold more of them)."""
    return page.locator("button:visible", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


def _painted_canvases(page, min_width: int = 200) -> list[int]:
    """Distinct colours of each visible canvas at least ``min_width`` px wide, from the page's
    pixels (vtk.js draws with WebGL, whose buffer cannot be read back after compositing)."""
    from PIL import Image

    counts = []
    for canvas in page.locator("canvas:visible").all():
        box = canvas.bounding_box()
        if box and box["width"] >= min_width:
            img = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
            counts.append(len(img.getcolors(maxcolors=img.width * img.height)))
    return counts


def _open_diagnostic(page, tab: str, source: str = "reference") -> None:
    """Diagnostics tab → look at ``source`` → Load → the ``tab`` view."""
    from playwright.sync_api import expect

    page.locator(".bk-tab", has_text="Diagnostics").click()
    page.get_by_role("combobox", name="Look at").select_option(label=source)
    _visible_button(page, "Load").click()
    expect(page.get_by_text(re.compile("^(reference of|live run at step)"))).to_be_visible()
    page.locator(".bk-tab", has_text=tab).click()


def _pick(page, which: int, label: str) -> None:
    """Select ``label`` in the sidebar's problem (0) or model (1) picker."""
    page.locator("select").nth(which).select_option(label=label)


def _open_training_card(page) -> None:
    page.get_by_role("button", name="Training", exact=True).click()
    settings_input(page, "Steps").wait_for()


def _train_and_see_losses(page, points: int, probe: str = LOSS_POINTS) -> None:
    """Press Train; the loss plot must receive ``points`` rows (one per logged step).

    A short run may finish between two polls of the view, so "more points later" is not
    asserted; that every logged step reached the plot is.
    """
    press(page, "Train", training_started(page, probe))
    try:
        page.wait_for_function(f"({probe})() >= {points}")
    except Exception:
        print(f"the plot shows {page.evaluate(f'({probe})()')} rows of the {points} awaited")
        raise


def test_the_page_fetches_nothing_from_another_host(page, off_host):
    """Offline (or behind a firewall) a font or script from a CDN fails or hangs the page:
    Panel's Fast design links Google Fonts unless the app's design leaves it out."""
    page.wait_for_load_state("load")
    assert not off_host, [r.url for r in off_host]


def test_a_page_whose_scripts_arrive_after_the_session_timeout_fetches_nothing_off_host(
        browser, lab_url):
    """On a slow link BokehJS came after Bokeh had dropped the page's unused session; the session
    made afresh for the websocket linked Panel's stylesheets from cdn.holoviz.org (13 requests
    that fail offline, leaving the catalogue unstyled). Bokeh drops an unused session after 15 s,
    checked every 17 s: 40 s is past both."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = record_page_errors(page)
    off_host = record_off_host_requests(page)
    page.set_default_timeout(WAIT_MS)
    held = []
    page.route("**/bokeh.min.js*", lambda route: held.append(route))
    page.goto(lab_url, wait_until="commit")
    page.wait_for_function("() => true")  # the page exists; its bundle is held back
    page.wait_for_timeout(40_000)
    assert held, "the BokehJS bundle was never requested"
    for route in held:
        route.continue_()
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    page.wait_for_load_state("networkidle")
    # the page talks to a live session: Train starts a run, Stop ends it
    press(page, "Train", training_started(page))
    press(page, "Stop", training_ended(page))
    context.close()
    assert not errors, errors
    assert not off_host, [r.url for r in off_host]


def test_bad_input_is_named_then_a_pinn_trains_and_its_loss_landscape_is_drawn(page):
    from playwright.sync_api import expect

    _pick(page, 0, "Burgers 1D")
    type_setting(page, "Nu", "5")  # Burgers' nu lives in [0.0001, 1]
    alert = page.locator("#sidebar .alert-danger:visible")  # under the field
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Nu must be from 0.0001 to 1")  # the field's label and its range
    expect(settings_input(page, "Nu")).not_to_have_value("5")  # the widget is put back
    screenshot(page, "bad_input")

    type_setting(page, "Nu", "0.01")
    expect(alert).to_be_hidden()  # an accepted value of the field clears its refusal
    _open_training_card(page)
    for label, value in (("Steps", 60), ("N pde", 200), ("Snapshot every", 20)):
        type_setting(page, label, value)
    _train_and_see_losses(page, points=6)  # 60 steps, logged every 10
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()  # finished

    # the loss around the trained weights, on a 7 x 7 plane of random directions
    _open_diagnostic(page, "Loss landscape", source="live run")
    type_setting(page, "Resolution", 7)
    type_setting(page, "Hessian k", 2)
    _visible_button(page, "Refresh").click()
    expect(page.get_by_text(re.compile("^Loss landscape · live run"))).to_be_visible()
    page.wait_for_function(LANDSCAPE_SHOWN)
    expect(page.locator("tr", has_text="λ1")).to_have_count(1)  # top Hessian eigenvalue listed
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    page.wait_for_timeout(1000)
    assert max(_painted_canvases(page)) > 100
    screenshot(page, "landscape")


def test_a_3d_field_is_rendered_as_a_volume_and_an_isosurface(page):
    from playwright.sync_api import expect

    _pick(page, 0, "Heat equation 3D")
    _open_diagnostic(page, "3D fields")
    # a scalar field offers its output, not the vorticity of a velocity
    expect(page.get_by_role("combobox", name="Quantity")).to_have_value("u")
    _visible_button(page, "Refresh").click()
    expect(page.get_by_text(re.compile("^u of the reference at t = 1"))).to_be_visible()
    page.wait_for_timeout(2000)  # vtk.js draws after the scene arrives
    colours = _painted_canvases(page)
    assert len(colours) >= 2 and min(colours) > 100, colours  # volume and isosurface scene
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    screenshot(page, "field3d")


def test_an_attractor_is_drawn_and_its_lyapunov_exponents_computed(page):
    from playwright.sync_api import expect

    _pick(page, 0, "Lorenz-63")
    _open_diagnostic(page, "Attractors")
    type_setting(page, "Lyapunov time", 5)
    _visible_button(page, "Compute invariants").click()
    expect(page.get_by_text(re.compile("^Phase portrait · reference of Lorenz-63"))).to_be_visible()
    row = page.locator("tr", has_text="true")  # the invariants of the true vector field
    expect(row).to_have_count(1)
    lam = [float(c) for c in row.locator("td").all_inner_texts()[1:4]]
    assert lam[0] > 0 > lam[2], lam  # chaos: one expanding, one strongly contracting direction
    page.wait_for_timeout(2000)
    assert max(_painted_canvases(page)) > 30  # the butterfly's polyline
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    screenshot(page, "attractor")


def test_train_a_pig_model(page):
    from playwright.sync_api import expect

    _pick(page, 0, "Burgers 1D")
    _pick(page, 1, "PIG (Physics-Informed Gaussians)")
    type_setting(page, "N gaussians", 200)
    _open_training_card(page)
    for label, value in (("Steps", 60), ("N pde", 200), ("Snapshot every", 20)):
        type_setting(page, label, value)
    _train_and_see_losses(page, points=6)
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    page.wait_for_timeout(1000)  # let the canvases paint
    screenshot(page, "pig")


def test_train_an_fno_on_an_operator_problem(page):
    from playwright.sync_api import expect

    _pick(page, 0, "Burgers operator (FNO 1D)")
    model = page.get_by_role("combobox", name="Model")
    expect(model).to_have_value("Fourier neural operator")  # operator models only
    expect(model.locator("option")).to_have_count(3)
    assert sorted(model.locator("option").all_text_contents()) == [
        "DeepONet", "Fourier neural operator", "Multigrid neural operator (MgNO)"]
    # "Modes" exists only once the FNO form has replaced the MLP's, which also has a "Width"
    for label, value in (("Solve resolution", 128), ("Resolution", 64), ("Batch size", 4),
                         ("N train", 8), ("N val", 4), ("Modes", 8), ("Width", 16),
                         ("Projection channels", 32)):
        type_setting(page, label, value)
    _open_training_card(page)
    for label, value in (("Steps", 40), ("Snapshot every", 10), ("Log every", 2)):
        type_setting(page, label, value)
    expect(page.locator(".alert-danger:visible")).to_have_count(0)  # every size was accepted
    _train_and_see_losses(page, points=20, probe=OPERATOR_POINTS)  # 40 steps, logged every 2
    expect(page.get_by_text(re.compile("Operator views"))).to_be_visible()
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    page.wait_for_timeout(1000)
    screenshot(page, "fno")


def test_a_study_runs_from_its_tab_and_lists_every_run(page):
    """Studies tab: a bad line is refused by name; a two-point study with two seeds trains four
    runs on a local cluster, listed in its table as they finish and kept as saved runs."""
    from playwright.sync_api import expect

    _pick(page, 0, "Burgers 1D")
    page.locator(".bk-tab", has_text="Studies").click()
    space = page.get_by_role("textbox", name=re.compile("^Search space"))
    fixed = page.get_by_role("textbox", name=re.compile("^Fixed settings"))
    space.fill("model.widht=[4, 8]")
    space.blur()
    run = page.get_by_role("button", name="Run study", exact=True)
    run.click()
    expect(page.locator(".alert-danger:visible")).to_contain_text("model.widht")
    space.fill("model.width=[4, 8]")
    space.blur()
    fixed.fill("steps=5\nn_pde=64\nn_ic=16\nn_bc=16\nmodel.depth=1\nsnapshot_every=5")
    fixed.blur()
    expect(run).to_be_enabled()
    run.click()
    expect(page.get_by_text(re.compile(r"4 of 4 runs done; best"))).to_be_visible()
    expect(page.locator(".alert-danger:visible")).to_have_count(0)
    rows = page.locator(".tabulator", has_text="model.width").locator(".tabulator-row")
    expect(rows).to_have_count(4)  # the study's own table: one row per run
    screenshot(page, "study")


def test_diagnostics_tabs_survive_each_other_after_a_3d_render(page):
    """vtk.js views removed by a tab switch threw on every later switch (``getInteractor`` of
    undefined), and the Spectra tab then showed no controls until a reload."""
    from playwright.sync_api import expect

    _pick(page, 0, "Heat equation 3D")
    _open_diagnostic(page, "3D fields")
    _visible_button(page, "Refresh").click()
    expect(page.get_by_text(re.compile("^u of the reference at t = 1"))).to_be_visible()
    page.wait_for_timeout(2000)  # vtk.js draws after the scene arrives
    for tab in ("Spectra", "Attractors", "3D fields", "Loss landscape", "Spectra"):
        page.locator(".bk-tab", has_text=tab).click()
        expect(_visible_button(page, "Refresh")).to_have_count(1)  # each tab keeps its controls
    expect(page.get_by_role("combobox", name="Component")).to_be_visible()


@pytest.mark.parametrize("width,height", [(1280, 800), (1920, 1080)])
def test_screenshots_of_every_view_at_laptop_and_desktop_sizes(browser, lab_url, width, height):
    """docs/screenshots/<view>_<width>x<height>.png, shown in the README: the catalogue, a
    refused value under its field, a short run in Training, the saved runs, Diagnostics. Every
    tab was as wide as the widest row of any tab and cut off on the right at 1280 x 800."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors = record_page_errors(page)
    off_host = record_off_host_requests(page)
    page.set_default_timeout(WAIT_MS)
    page.goto(lab_url)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    page.wait_for_timeout(1500)
    size = f"{width}x{height}"
    screenshot(page, f"catalogue_{size}")
    _open_training_card(page)
    type_setting(page, "Steps", "2.5")
    refused = page.locator("#sidebar .alert-danger:visible")
    expect(refused).to_contain_text("whole number")
    refused.scroll_into_view_if_needed()
    screenshot(page, f"refused_value_{size}")
    for label, value in (("Steps", 60), ("N pde", 200), ("Snapshot every", 20)):
        type_setting(page, label, value)
    _train_and_see_losses(page, points=6)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    page.wait_for_timeout(1500)
    screenshot(page, f"training_{size}")
    page.locator(".bk-tab", has_text="Saved runs").click()
    page.wait_for_timeout(1000)
    screenshot(page, f"saved_runs_{size}")
    box = _visible_button(page, "Continue training").bounding_box()
    assert box["x"] + box["width"] <= width, box  # the row fits the window
    _open_diagnostic(page, "Loss landscape", source="live run")
    page.wait_for_timeout(1000)
    screenshot(page, f"diagnostics_{size}")
    context.close()
    assert not errors, errors
    assert not off_host, [r.url for r in off_host]
