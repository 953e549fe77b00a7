"""The Burgers seed sweeps measure the recipes users meet: the benchmark's "app" recipe is what
the app trains when Train is pressed first, so its sweep speaks for the app's default."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from lab import TrainConfig, get_model_config
from lab.cli import _parse_sets
from widgets.app import APP_DEFAULT_NOTE, APP_TRAIN_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("burgers_pinn", ROOT / "benchmarks" / "burgers_pinn.py")
burgers_pinn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(burgers_pinn)


def test_the_app_recipe_trains_what_the_app_trains_first():
    _, model_sets, train_sets = _parse_sets(burgers_pinn.RECIPES["app"])  # as `sciml-lab train --set` reads them
    model = get_model_config("mlp", **model_sets)
    train = TrainConfig(**train_sets, steps=burgers_pinn.ADAM_STEPS["app"])
    app = TrainConfig(**APP_TRAIN_DEFAULTS)
    for name in ("steps", "n_pde", "n_ic", "n_bc", "lbfgs_steps", "lr", "lr_schedule", "lr_decay_steps",
                 "resampling", "resample_every", "causal", "balancing", "seed"):
        assert getattr(train, name) == getattr(app, name), name
    settings = lambda m: {k: v for k, v in m.param.values().items() if k != "name"}  # noqa: E731
    assert settings(model) == settings(get_model_config("mlp"))  # the model picker's default


def _sweep(recipe: str, device: str) -> dict:
    lines = [json.loads(x) for x in (ROOT / "benchmarks" / "results" / "burgers_pinn.jsonl").read_text().splitlines()]
    [*_, last] = [x for x in lines if x["benchmark"] == "burgers_pinn_seeds" and x["recipe"] == recipe
                  and x["device"] == device and x["seeds"] == 10]
    return last


def test_the_apps_note_quotes_the_seed_sweeps_of_its_default_and_of_the_converged_recipe():
    app = _sweep("app", "cpu")
    assert f"{app['min']:.2f}–{app['max']:.2f} over seeds 0–9" in APP_DEFAULT_NOTE
    converged = [_sweep("default", device) for device in ("cpu", "cuda")]
    assert all(s["target"] == 1e-2 and s["reached"] == 10 for s in converged)
    assert "below 1e-2 for 10 of 10 seeds on a CPU and on a GPU" in APP_DEFAULT_NOTE
    settings = burgers_pinn.RECIPES["default"]  # the recipe the note spells out
    for text, setting in (("4×32", "model.width=32"), ("4×32", "model.depth=4"), ("4000 points", "n_pde=4000"),
                          ("RAD every 500", "resample_every=500"), ("3e-3", "lr=0.003"),
                          ("5000 L-BFGS", "lbfgs_steps=5000")):
        assert text in APP_DEFAULT_NOTE and setting in settings
