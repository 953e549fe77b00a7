"""Your own PDE and model: define_problem, boundary conditions, problems without a reference,
user references, user model families, entry points and the CLI's --module."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import param
import pytest
import torch
from torch import nn

from lab import TrainConfig, Trainer, get_model_config, get_problem, list_problems
from lab.models import ModelConfig, list_models, register_model
from lab.problems.custom import Dirichlet, Neumann, Periodic, Robin, define_problem

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(n_pde=256, n_ic=64, n_bc=64, log_every=50)


@pytest.fixture(autouse=True)
def _catalogue_restored():
    """What a test registers (problems, model families) is gone after it: later tests (the app's
    pickers, the catalogue) see the catalogue as shipped."""
    import lab.models as models
    import lab.problems as problems

    problems.list_problems(), models.list_models()  # the shipped catalogue, loaded whole first
    saved = dict(problems._REGISTRY), dict(models._REGISTRY)
    yield
    for registry, before in zip((problems._REGISTRY, models._REGISTRY), saved):
        registry.clear()
        registry.update(before)


def _heat(key="user_heat", **kw):
    return define_problem(
        key, title="Heat (user)", bounds={"x": (0.0, 1.0), "t": (0.0, 0.5)},
        params={"kappa": (0.1, 0.01, 1.0, "Diffusivity")},
        residual=lambda f, p: f.d("t") - p.kappa * f.d("x", "x"),
        initial=lambda x: torch.sin(math.pi * x), boundary={"x": Dirichlet(0.0)}, **kw)


def _exact(x, t, p):
    return np.exp(-p.kappa * math.pi**2 * t) * np.sin(math.pi * x)


def test_a_user_heat_equation_trains_to_its_exact_solution(tmp_path):
    """300 Adam steps of a small PINN reach 5 % relative L2 against the user's exact solution
    (about 1 % at 500 steps), and the problem behaves as a catalogue one."""
    cls = _heat(reference=_exact)
    problem = get_problem("user_heat", kappa=0.1)
    assert type(problem) is cls and "user_heat" in list_problems()
    assert problem.kind == "1d+t" and problem.loss_names() == ("pde", "ic", "bc")
    torch.manual_seed(0)
    result = Trainer(problem, get_model_config("mlp", width=32, depth=3),
                     TrainConfig(steps=300, lr=3e-3, snapshot_every=300, **FAST),
                     runs_dir=str(tmp_path)).run()
    assert result.status == "completed" and result.rel_l2 < 0.05


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    """README.md's "Your own PDE" code, run exactly as it stands there."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Your own PDE.*?```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its 'Your own PDE' example"
    code = block.group(1).replace("steps=2000", "steps=20")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCIML_LAB_HOME", str(tmp_path / "home"))  # the example saves to the default folder
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["result"].status == "completed"


def test_refusals_name_the_argument_and_what_is_allowed():
    ok = dict(bounds={"x": (0.0, 1.0), "t": (0.0, 1.0)}, residual=lambda f: f.d("t"), initial=0.0)
    cases = [
        (dict(bounds={"r": (0, 1), "t": (0, 1)}), r"bounds must map the axes of one of \[\['x', 't'\]"),
        (dict(bounds={"x": (1.0, 0.0), "t": (0, 1)}), r"bounds\['x'\] must be \(low, high\)"),
        (dict(residual=lambda f, nu: f()), r"residual takes arguments named from f, p, x, t; 'nu'"),
        (dict(initial=None), "initial is needed"),
        (dict(boundary={"t": Dirichlet()}), r"boundary: 't' is not a spatial axis; choose from \['x'\]"),
        (dict(boundary={"x": "dirichlet"}), r"boundary\['x'\] must be one of Dirichlet, Neumann, Robin, Periodic"),
        (dict(boundary={"x": (Periodic(), Dirichlet())}), "Periodic holds at both ends"),
        (dict(params={"nu": 0.1}), r"params\['nu'\] must be \(default, low, high\)"),
        (dict(params={"nu": (2.0, 0.0, 1.0)}), r"params\['nu'\]: the default 2.0 must lie in \[0.0, 1.0\]"),
        (dict(reference="exact"), "reference must be None, a function"),
        (dict(reference=({"x": np.linspace(0, 1, 3), "t": np.linspace(0, 1, 4)}, np.zeros((4, 3)))),
         r"reference must have shape \(3, 4\)"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            define_problem("user_bad", **{**ok, **change})
    with pytest.raises(ValueError, match="'burgers' is a catalogue problem"):
        define_problem("burgers", **ok)
    cls = define_problem("user_ok", params={"nu": (0.1, 0.0, 1.0)}, **ok)
    with pytest.raises(ValueError, match="nu must be"):  # the parameter's own bounds
        cls(nu=3.0)


def test_defining_a_key_again_replaces_the_earlier_definition():
    first = _heat("user_again")
    second = _heat("user_again")
    assert first is not second and list_problems()["user_again"] is second


def _linear(a: float, b: float) -> nn.Module:
    """A 'model' u = a x + b t: its derivatives are known exactly."""
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[a, b]])
        lin.bias.zero_()
    return lin


def test_neumann_robin_and_dirichlet_residuals_use_the_outward_normal():
    cls = define_problem("user_bc", bounds={"x": (0.0, 2.0), "t": (0.0, 1.0)},
                         residual=lambda f: f.d("t"), initial=0.0,
                         boundary={"x": (Neumann(1.0), Robin(a=2.0, b=3.0, value=lambda t: t))})
    problem = cls()
    X = torch.tensor([[0.0, 0.5], [2.0, 0.25]])
    r = problem.point_residuals(_linear(5.0, 1.0), {"bc": X})["bc"]
    # low end: du/dn = -u_x = -5, minus 1; high end: 2 u + 3 u_x - t = 2 (10.25) + 15 - 0.25
    assert torch.allclose(r[:, 0], torch.tensor([-6.0, 35.25]))
    d = define_problem("user_bc_d", bounds={"x": (0.0, 2.0), "t": (0.0, 1.0)}, residual=lambda f: f.d("t"),
                       initial=0.0, boundary={"x": Dirichlet(lambda t, p: 2 * t)})()
    assert torch.allclose(d.point_residuals(_linear(5.0, 1.0), {"bc": X})["bc"][:, 0],
                          torch.tensor([0.5 - 1.0, 10.25 - 0.5]))


def test_periodic_axes_pair_the_ends_and_are_declared_for_embeddings():
    cls = define_problem("user_periodic", bounds={"x": (0.0, 1.0), "t": (0.0, 1.0)},
                         residual=lambda f: f.d("t") + f.d("x"), initial=lambda x: torch.sin(2 * math.pi * x),
                         boundary={"x": Periodic()})
    problem = cls()
    assert problem.periodic == ("x",) and problem.loss_names() == ("pde", "ic", "periodic")
    batch = problem.sample(16, 8, 8, torch.Generator().manual_seed(0))
    assert "bc" not in batch and torch.all(batch["periodic"][:, 0] == 0.0)
    r = problem.point_residuals(_linear(5.0, 1.0), {"periodic": batch["periodic"]})["periodic"]
    assert torch.allclose(r[:, 0], torch.full((8,), -5.0)) and torch.allclose(r[:, 1], torch.zeros(8))
    terms = problem.losses(get_model_config("fourier_mlp").build(problem).float(), batch)
    assert set(terms) == {"pde", "ic", "periodic"} and float(terms["periodic"].detach()) < 1e-8  # exact embedding


def test_a_problem_without_a_reference_trains_and_reports_none(tmp_path, capsys):
    problem = _heat("user_noref")()
    assert not problem.has_reference() and problem.reference() is None
    events = []
    trainer = Trainer(problem, get_model_config("mlp", width=8), TrainConfig(steps=10, snapshot_every=5, **FAST),
                      runs_dir=str(tmp_path))
    trainer.subscribe(events.append)
    result = trainer.run()
    assert result.status == "completed" and result.rel_l2 is None
    snaps = [e for e in events if type(e).__name__ == "Snapshot"]
    assert [s.step for s in snaps] == [5, 10]  # the final state once, not twice
    assert all(s.rel_l2 is None and set(s.fields) == {"prediction"} for s in snaps)
    assert "residual" in snaps[-1].extras
    summary = json.loads((Path(result.run_dir) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["rel_l2"] is None


def test_a_user_supplies_a_reference_as_an_array_on_a_grid():
    cls = _heat("user_array")
    problem = cls()
    grid = {"x": np.linspace(0, 1, 201), "t": np.linspace(0, 0.5, 101)}
    values = _exact(grid["x"][:, None], grid["t"][None, :], problem)
    problem.set_reference(values, grid)
    eval_grid = problem.grid()
    exact = _exact(eval_grid["x"][:, None], eval_grid["t"][None, :], problem)
    assert np.abs(problem.reference() - exact).max() < 1e-4  # interpolated onto the evaluation grid
    problem.kappa = 0.2  # the array was made for kappa = 0.1
    assert problem.reference() is None
    with pytest.raises(ValueError, match=r"values must have shape \(201, 101\)"):
        problem.set_reference(values.T, grid)
    defined = _heat("user_array2", reference=(grid, values))()
    assert np.allclose(defined.reference(grid), values)


class Sine(nn.Module):
    def forward(self, x):
        return torch.sin(x)


class SineNetConfig(ModelConfig):
    """A user's model family: a SIREN-like sine network."""

    kind = "test_sine_net"
    title = "Sine network (test)"
    width = param.Integer(16, bounds=(2, 256), doc="Neurons per hidden layer")
    omega = param.Number(3.0, bounds=(0.1, 30.0), doc="Frequency of the first layer")

    def build(self, problem, generator=None):
        d, k = len(problem.axes), len(problem.outputs)
        first = nn.Linear(d, self.width)
        with torch.no_grad():
            first.weight.mul_(self.omega)
        return nn.Sequential(first, Sine(), nn.Linear(self.width, self.width), Sine(),
                             nn.Linear(self.width, k))


def test_a_user_model_family_trains_on_a_problem(tmp_path):
    register_model(SineNetConfig)
    assert list_models()["test_sine_net"] is SineNetConfig
    config = get_model_config("test_sine_net", width=16)
    with pytest.raises(ValueError, match="Width"):
        get_model_config("test_sine_net", width=1)
    result = Trainer(get_problem("heat"), config, TrainConfig(steps=40, lr=3e-3, snapshot_every=40, **FAST),
                     runs_dir=str(tmp_path)).run()
    assert result.status == "completed" and math.isfinite(result.rel_l2) and result.rel_l2 < 1.5


USER_FILE = '''
import torch
from lab.problems.custom import define_problem, Neumann

define_problem("{key}", title="Fisher KPP (file)", bounds={{"x": (0.0, 1.0), "t": (0.0, 1.0)}},
               params={{"D": (0.01, 0.001, 0.1)}},
               residual=lambda f, p: f.d("t") - p.D * f.d("x", "x") - f() * (1 - f()),
               initial=lambda x: torch.exp(-50 * x**2), boundary={{"x": Neumann(0.0)}})
'''


def test_cli_module_makes_a_users_file_reachable(tmp_path, capsys):
    from lab.cli import main

    path = tmp_path / "my_pde.py"
    path.write_text(USER_FILE.format(key="user_cli_kpp"))
    assert main(["problems", "--module", str(path)]) == 0
    assert re.search(r"user_cli_kpp\s+1d\+t\s+Fisher KPP \(file\)", capsys.readouterr().out)
    code = main(["train", "--module", str(path), "--problem", "user_cli_kpp", "--steps", "5", "--quiet",
                 "--runs-dir", str(tmp_path / "runs"), "--set", "n_pde=64", "n_ic=16", "n_bc=16",
                 "problem.D=0.02", "model.width=8"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["status"] == "completed" and out["rel_l2"] is None
    assert main(["problems", "--module", str(tmp_path / "nope.py")]) == 2
    assert "--module" in (err := capsys.readouterr().err) and "no such file" in err
    bad = tmp_path / "broken.py"
    bad.write_text("raise RuntimeError('boom')\n")
    assert main(["problems", "--module", str(bad)]) == 2
    assert "failed to import: RuntimeError: boom" in capsys.readouterr().err


PYPROJECT = '''
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "sciml-lab-example-ext"
version = "0.1"

[tool.setuptools]
py-modules = ["example_ext"]

[project.entry-points."sciml_lab.problems"]
example = "example_ext"
broken = "example_ext_missing"

[project.entry-points."sciml_lab.models"]
sine = "example_ext:SineConfig"
'''

EXT_MODULE = USER_FILE.format(key="ext_kpp") + '''
import param
from torch import nn
from lab.models import ModelConfig


class SineConfig(ModelConfig):
    kind, title = "ext_sine", "Sine (extension)"
    width = param.Integer(8, bounds=(2, 64))

    def build(self, problem, generator=None):
        return nn.Sequential(nn.Linear(len(problem.axes), self.width), nn.Tanh(),
                             nn.Linear(self.width, len(problem.outputs)))
'''

CHECK = '''
import json, sys, warnings
sys.path.insert(0, sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from lab.problems import list_problems
    from lab.models import list_models
    problems, models = list_problems(), list_models()
print(json.dumps({"problem": "ext_kpp" in problems, "model": "ext_sine" in models,
                  "warnings": [str(w.message) for w in caught]}))
'''


def test_entry_points_of_an_installed_package_register_problems_and_models(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "example_ext.py").write_text(EXT_MODULE)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(pkg)], check=True, capture_output=True,
                   timeout=120)
    out = subprocess.run([sys.executable, "-c", CHECK, str(target)], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["problem"] and seen["model"]
    assert any("'broken' (example_ext_missing)" in w and "ModuleNotFoundError" in w for w in seen["warnings"])


def test_a_bad_entry_point_is_a_warning_naming_it(monkeypatch):
    from importlib import metadata

    from lab import entry_points

    class _EP:
        name, value = "bad_one", "nowhere.at_all"

        def load(self):
            raise ImportError("no module named nowhere")

    monkeypatch.setattr(metadata, "entry_points", lambda group: [_EP()] if group == "sciml_lab.problems" else [])
    entry_points.reload("sciml_lab.problems")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problems = list_problems()
        list_problems()  # loaded once: no second warning
    assert "burgers" in problems
    assert [str(w.message) for w in caught if "bad_one" in str(w.message)] == [
        "sciml-lab: entry point 'bad_one' (nowhere.at_all) in group 'sciml_lab.problems' could not "
        "be loaded and is skipped: ImportError: no module named nowhere"]
    entry_points.reload("sciml_lab.problems")


def test_the_app_trains_a_problem_without_a_reference_and_shows_prediction_and_residual(tmp_path):
    """LabApp, thread mode, drained by hand: fields show prediction and |r|, no relative L2,
    the catalogue says there is no reference, and diagnostics refuse the missing reference."""
    import panel as pn
    from bokeh.models import ColumnDataSource

    from widgets.app import LabApp
    from widgets.catalogue_view import CatalogueView
    from widgets.diagnostics.base import Source

    _heat("user_app_heat")
    app = LabApp(problem="user_app_heat", runs_dir=str(tmp_path / "runs"))
    pn.panel(app).get_root()
    assert app.problem_view.problem.key == "user_app_heat"
    app.train_config.param.update(steps=20, n_pde=128, n_ic=32, n_bc=32, log_every=5, snapshot_every=10)
    app.train()
    app.training.trainer.join(300)
    app.training.drain()
    view = app.training
    assert not view.running and "completed" in view.status.object and "relative L2" not in view.status.object
    assert view.rel_text.value == "– (no reference)" and math.isnan(view.rel_l2)
    fields = view.fields
    assert fields.shown == ("prediction", "residual") and "no reference" in fields.caption.object
    root = pn.panel(fields).get_root()
    images = [s.data["image"][0] for s in root.select({"type": ColumnDataSource}) if "image" in s.data]
    assert len(images) == 2 and all(im.shape == (101, 128) or im.shape == (128, 101) for im in images)
    assert any(np.all(im >= 0) and np.nanmax(im) > 0 for im in images)  # |r|
    catalogue = CatalogueView(app.problem_view, debounce_ms=0, max_points=600)
    catalogue.wait()
    assert "has no reference solution" in catalogue.status.object and catalogue.preview.objects == []
    with pytest.raises(ValueError, match="has no reference solution"):
        Source.reference(app.problem_view.problem)


def test_a_subclass_declares_conditions_and_overrides_the_physics():
    from lab.problems import register
    from lab.problems.custom import CustomProblem

    @register
    class Cooling(CustomProblem):
        key, title, axes = "user_cooling", "Rod with a cooled end", ("x", "t")
        domain = {"x": (0.0, 2.0), "t": (0.0, 1.0)}
        boundary = {"x": (Dirichlet(1.0), Robin(a=2.0, b=3.0))}
        kappa = param.Number(0.1, bounds=(0.01, 1.0), doc="Diffusivity")

        def residual(self, f):
            return f.d("t") - self.kappa * f.d("x", "x")

        def initial_condition(self, X):
            return torch.ones(len(X), 1)

    problem = get_problem("user_cooling", kappa=0.2)
    assert problem.loss_names() == ("pde", "ic", "bc") and not problem.has_reference()
    X = torch.tensor([[0.0, 0.5], [2.0, 0.25]])
    r = problem.point_residuals(_linear(5.0, 1.0), {"bc": X})["bc"][:, 0]
    assert torch.allclose(r, torch.tensor([0.5 - 1.0, 2 * 10.25 + 3 * 5.0]))
    with pytest.raises(ValueError, match=r"boundary\['x'\] must be one of Dirichlet"):
        class Bad(CustomProblem):
            axes, domain, boundary = ("x", "t"), {"x": (0, 1), "t": (0, 1)}, {"x": 0.0}
    ring = type("Ring", (CustomProblem,), {"key": "user_ring", "axes": ("x", "y"),
                                           "boundary": {"x": Periodic(), "y": Neumann()}})
    assert ring.periodic == ("x",) and ring.boundary["y"] == (Neumann(), Neumann())


def test_a_problem_from_a_module_file_trains_in_a_worker_process_and_one_from_main_is_refused(tmp_path):
    """Served, the app trains in worker processes: they import the --module files (and entry
    points) first, so a user's problem travels; one defined in ``__main__`` is refused in words."""
    from lab.entry_points import USER_MODULES, load_user_module
    from lab.training.process import ProcessTrainer

    path = tmp_path / "my_worker_pde.py"
    path.write_text(USER_FILE.format(key="user_worker_kpp"))
    load_user_module(str(path))
    try:
        trainer = Trainer(get_problem("user_worker_kpp"), get_model_config("mlp", width=8),
                          TrainConfig(steps=5, snapshot_every=5, **FAST), runs_dir=str(tmp_path / "runs"))
        worker = ProcessTrainer(trainer)
        worker.start()
        worker.join(300)
        assert worker.result is not None and worker.result.status == "completed", worker.result
        assert worker.result.rel_l2 is None
    finally:
        USER_MODULES.remove(str(path.resolve()))
    main_made = define_problem("user_main_made", bounds={"x": (0.0, 1.0), "t": (0.0, 1.0)},
                               residual=lambda f: f.d("t"), initial=0.0)
    main_made.defined_in = "__main__"  # as if a notebook cell had defined it
    trainer = Trainer(main_made(), get_model_config("mlp", width=8), TrainConfig(steps=5, **FAST),
                      runs_dir=str(tmp_path / "runs"))
    with pytest.raises(ValueError, match="defined in this Python session.*training_mode='thread'"):
        ProcessTrainer(trainer)
