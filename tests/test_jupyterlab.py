"""The course in JupyterLab, as a learner meets it: open the tour, run all cells, play with it.

``jupyter lab`` runs as a subprocess on ``notebooks/`` with ``SCIML_LAB_FAST=1``, no token, and
its own settings (autosave off, so running the tour never rewrites the file in the repository),
and Debian's Chromium drives it. The tour must run to its last cell without an error output,
and its ipywidgets playground must answer a click on *Train* (the status moves on by one press of
steps and the plot is redrawn). The second test
opens the app through jupyter-server-proxy (``/sciml-lab/``), as Binder's launcher tile does. The
third displays ``LabApp`` in a notebook cell, set up as ``widgets`` documents it, and needs it to
render, and to change, with no file from another host (the lab's users may be offline).
Jupyter's root is a scratch folder holding that notebook and a link to ``notebooks/``, so the
repository gains no file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys

import pytest
from browser_support import (ROOT, WAIT_MS, free_port, launch, needs_chromium,
                             record_off_host_requests, running, screenshot, settings_input)

pytestmark = [pytest.mark.browser, needs_chromium]

TOUR = ROOT / "notebooks" / "00_tour.ipynb"
STDERR = "[data-mime-type='application/vnd.jupyter.stderr']"
#: the app inline, as the ``widgets`` docstring shows it
APP_INLINE = "app_inline.ipynb"
APP_INLINE_CELL = "from widgets import LabApp, extension\n\nextension()\nLabApp()"


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jupyter")
    settings = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    root = tmp / "root"
    root.mkdir()
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    (root / APP_INLINE).write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": APP_INLINE_CELL}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    port = free_port()
    exe = shutil.which("jupyter-lab")
    cmd = ([exe] if exe else [sys.executable, "-m", "jupyterlab"]) + [
        "--no-browser", f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
        f"--notebook-dir={root}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}"] + (["--allow-root"] if os.geteuid() == 0 else [])
    env = {"SCIML_LAB_FAST": "1", "OMP_NUM_THREADS": "1", "SCIML_LAB_HOME": str(tmp / "home"),
           "SCIML_LAB_CACHE": str(tmp / "cache"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    with running(cmd, port, tmp / "jupyter.log", env):
        yield f"http://localhost:{port}"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


def test_tour_runs_in_jupyterlab_and_its_widgets_respond(jupyter, browser):
    from playwright.sync_api import expect

    before = hashlib.sha256(TOUR.read_bytes()).hexdigest()
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{jupyter}/lab/tree/notebooks/{TOUR.name}")
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")  # the kernel is up

    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    # the last cell lists the learning path, this notebook first
    last = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea-output")
    expect(last).to_contain_text("00 · A tour of sciml-lab")
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
    errors = page.locator(f".jp-OutputArea-output{STDERR}").filter(has_text=re.compile("Error|Traceback"))
    assert errors.count() == 0, errors.all_inner_texts()

    # the playground trained once on its own; one press trains one more chunk of steps
    train = page.locator(".widget-button", has_text=re.compile(r"^Train \d+ steps"))
    # JupyterLab renders only the cells in view: the text of the DOM, not the rendered text
    per_press = int(re.search(r"\d+", train.text_content()).group())
    status = page.locator(".widget-html", has_text="relative L2 error")
    expect(status).to_contain_text(f"step {per_press},")
    plot = page.locator(".widget-output img").first
    expect(plot).to_be_visible()
    first_plot = plot.get_attribute("src")
    train.scroll_into_view_if_needed()
    train.click()
    expect(status).to_contain_text(f"step {2 * per_press},")
    expect(page.locator(".widget-output img").first).not_to_have_attribute("src", first_plot)

    train.scroll_into_view_if_needed()
    screenshot(page, "jupyterlab")
    page.close()
    assert hashlib.sha256(TOUR.read_bytes()).hexdigest() == before  # nothing saved into the repo


def test_app_opens_through_the_jupyter_server_proxy(jupyter, browser):
    """The Binder path: ``/sciml-lab/`` starts ``sciml-lab serve`` behind the proxy."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{jupyter}/sciml-lab/")
    train = page.get_by_role("button", name="Train", exact=True)
    expect(train).to_be_enabled()  # rendered: the websocket through the proxy is connected
    expect(page.get_by_role("combobox", name="Problem")).to_have_value("Burgers 1D")
    page.close()


def test_app_displayed_in_a_notebook_renders_without_a_cdn(jupyter, browser):
    """Panel's notebook loader fetches BokehJS, Panel and vtk.js from a CDN by default, and one
    script that never arrives leaves every Panel output empty; ``widgets.extension`` sends them
    with the output instead."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(WAIT_MS)
    off_host = record_off_host_requests(page)
    page.goto(f"{jupyter}/lab/workspaces/app-inline/tree/{APP_INLINE}")  # not the tour's tabs
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")  # the kernel is up
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    expect(page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")).to_contain_text("[1]")
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
    errors = page.locator(f".jp-OutputArea-output{STDERR}").filter(has_text=re.compile("Error|Traceback"))
    assert errors.count() == 0, errors.all_inner_texts()
    scripts = [r.url for r in off_host if r.resource_type == "script"]
    assert not scripts, scripts  # what stalls the loader; a stylesheet off-host fails alone

    output = page.locator(".jp-OutputArea-output")
    expect(output.get_by_role("button", name="Train", exact=True)).to_be_visible()
    expect(output.get_by_role("combobox", name="Problem")).to_have_value("Burgers 1D")
    assert page.evaluate("() => typeof window.vtk") != "undefined"  # vtk.js came inline too (3D views)

    # views changed after display (another problem, an opened card) link nothing off-host either:
    # Panel's design hooks used to point their new models' stylesheets at its CDN
    output.get_by_role("combobox", name="Problem").select_option(label="Heat 1D")
    output.get_by_role("button", name="Training", exact=True).click()
    settings_input(page, "Steps").wait_for()
    page.wait_for_timeout(1000)  # stylesheets load after the models
    assert not off_host, [(r.resource_type, r.url) for r in off_host]
    page.close()
