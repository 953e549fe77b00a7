"""Your own PDE and model in the served app: ``sciml-lab serve --module my_pde.py``.

The file defines a Fisher–KPP problem (no closed-form solution, so no reference) and a model
family of its own; both appear in the pickers, the form shows the problem's own parameter, and
a run trains in a worker process (which imports the same file) and shows prediction and PDE
residual in place of reference and error.
"""
from __future__ import annotations

import pytest
from browser_support import (LOSS_POINTS, WAIT_MS, launch, needs_chromium, press, record_page_errors,
                             served_lab, settings_input, training_started, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]

MY_PDE = '''
import param
import torch
from torch import nn

from lab.models import ModelConfig, register_model
from lab.problems.custom import Neumann, define_problem

define_problem("my_fisher_kpp", title="Fisher-KPP (mine)", bounds={"x": (0.0, 1.0), "t": (0.0, 1.0)},
               params={"D": (0.01, 0.001, 0.1, "Diffusivity")},
               residual=lambda f, p: f.d("t") - p.D * f.d("x", "x") - f() * (1 - f()),
               initial=lambda x: torch.exp(-50 * x**2), boundary={"x": Neumann(0.0)})


@register_model
class Bounded(ModelConfig):
    """A population density stays in [0, 1]: a sigmoid output."""
    kind, title = "my_bounded", "Bounded MLP (mine)"
    width = param.Integer(12, bounds=(2, 256), doc="Neurons per hidden layer")

    def build(self, problem, generator=None):
        return nn.Sequential(nn.Linear(len(problem.axes), self.width), nn.Tanh(),
                             nn.Linear(self.width, len(problem.outputs)), nn.Sigmoid())
'''


def test_a_users_problem_and_model_from_a_file_train_in_the_served_app(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    module = tmp_path / "my_pde.py"
    module.write_text(MY_PDE)
    with served_lab(tmp_path, "--module", str(module)) as (url, runs), sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        errors = record_page_errors(page)
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        train = page.get_by_role("button", name="Train", exact=True)
        expect(train).to_be_enabled()
        page.locator("select").nth(0).select_option(label="Fisher-KPP (mine)")
        expect(settings_input(page, "D")).to_have_value("0.01")  # the problem's own parameter
        page.locator("select").nth(1).select_option(label="Bounded MLP (mine)")
        expect(settings_input(page, "Width")).to_have_value("12")  # the model's own setting
        page.get_by_role("button", name="Training", exact=True).click()
        for label, value in (("Steps", 30), ("N pde", 128), ("Snapshot every", 10)):
            type_setting(page, label, value)
        press(page, "Train", training_started(page))
        page.wait_for_function(f"({LOSS_POINTS})() >= 2")
        expect(train).to_be_enabled()  # the run ended
        expect(page.locator("text=no reference: prediction and PDE residual >> visible=true")).to_have_count(1)
        browser.close()
        assert not errors, errors
    (run,) = runs.iterdir()
    config = (run / "config.json").read_text()
    assert '"my_fisher_kpp"' in config and '"my_bounded"' in config
