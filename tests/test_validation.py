"""Bad settings are refused at once, in the user's terms, before a run folder exists.

Each test feeds one bad input and asserts the message names the field as the app labels it
(never ``Class.attribute`` or a Python type), the allowed range, and that nothing was saved.
"""
import json
import math

import pytest

from lab.cli import main
from lab.config import ConfigError
from lab.models import get_model_config
from lab.problems import get_problem
from lab.training import TrainConfig, Trainer
from lab.training.runs import list_runs


def _refused(match: str, **train) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as info:
        TrainConfig(**train)
    assert "TrainConfig" not in str(info.value) and "<class" not in str(info.value)
    return info.value


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("field, value", [("steps", True), ("n_pde", False), ("lr", True)])
def test_a_boolean_is_not_a_number(field, value):
    err = _refused(r"must be a (whole )?number .*got (true|false)", **{field: value})
    assert err.parameter == field


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_loss_weight_must_be_finite(value):
    _refused(r"Loss weights: the weight of 'ic' must be a finite number >= 0", loss_weights={"ic": value})


@pytest.mark.bad_input("validation")
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_causal_eps_must_be_finite(value):
    _refused(r"Causal eps: every value must be a finite number", causal_eps=[0.1, value])


@pytest.mark.bad_input("validation")
def test_a_number_must_be_finite_even_inside_its_bounds():
    _refused(r"Lr must be a finite number from 1e-08 to 1, got nan", lr=math.nan)


@pytest.mark.bad_input("validation")
def test_a_wrong_type_names_the_field_and_the_range_not_the_python_type():
    err = _refused(r"^Steps must be a whole number from 0 to 10,000,000, got 'many'\.$", steps="many")
    assert err.parameter == "steps"


@pytest.mark.bad_input("validation")
def test_an_out_of_range_edit_names_the_field_and_what_to_enter_and_keeps_the_old_value():
    config = TrainConfig()
    with pytest.raises(ConfigError, match=r"^Lr must be from 1e-08 to 1; 7 is out of range\. "
                                          r"Enter a value from 1e-08 to 1\.$"):
        config.param.update(lr=7)  # what a form does
    assert config.lr == 1e-3


def test_values_at_a_fields_bounds_are_accepted():
    assert TrainConfig(steps=10_000_000, seed=2**31 - 1, lr=1.0).steps == 10_000_000
    # the largest sample counts together still make a valid dataset specification
    problem = get_problem("burgers_operator", n_train=1_000_000, n_val=1_000_000)
    assert problem.spec().n_samples == 2_000_000


def _trainer(problem="burgers", model="mlp", problem_kw=None, model_kw=None, runs_dir=None, **train):
    return Trainer(get_problem(problem, **(problem_kw or {})), get_model_config(model, **(model_kw or {})),
                   TrainConfig(**train), runs_dir=runs_dir)


@pytest.mark.bad_input("validation")
def test_a_loss_weight_for_a_term_the_problem_lacks_is_refused_before_a_run_exists(tmp_path):
    with pytest.raises(ConfigError, match=r"Loss weights: 'ics' is not a loss term .* its terms are pde, ic, bc"):
        _trainer(loss_weights={"ics": 10}, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


def test_every_named_loss_term_is_a_term_the_task_computes():
    """The declared names are the keys the losses really have (weights reach every term)."""
    import torch

    from lab.training.preflight import loss_names
    for key in ("burgers", "wave", "klein_gordon2d", "poisson2d", "lorenz63", "ns3d_taylor_green"):
        problem = get_problem(key)
        model = get_model_config("mlp", width=8, depth=1).build(problem)
        batch = problem.sample(8, 8, 8, torch.Generator().manual_seed(0))
        assert set(problem.losses(model, batch)) == set(loss_names(problem, "pinn")), key


@pytest.mark.bad_input("validation")
def test_a_model_that_cannot_train_the_problem_is_refused_before_a_run_exists(tmp_path):
    with pytest.raises(ConfigError, match=r"needs an operator problem; Burgers 1D is not one"):
        _trainer(model="fno", runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("memory")
def test_too_many_collocation_points_are_refused_before_allocation_naming_the_field(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_MAX_GB", "1")
    with pytest.raises(ConfigError, match=r"^N pde = 50,000,000: the collocation points' autograd tape needs "
                                          r"about [\d.]+ GB, above the 1\.0 GB this machine allows\. Lower N pde\.$"):
        _trainer(n_pde=50_000_000, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("memory")
def test_a_model_too_large_for_memory_is_refused_naming_its_size_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_MAX_GB", "1")
    with pytest.raises(ConfigError, match=r"^Width = 4,096, Depth = 16: the model \(2[\d,]+ parameters"):
        _trainer(model_kw={"width": 4096, "depth": 16}, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("memory")
def test_a_reference_grid_above_max_memory_names_the_grid_and_the_max_memory_field(tmp_path):
    with pytest.raises(ConfigError, match=r"^N = 1,024: the reference solve needs about [\d.]+ GB, above "
                                          r"Max memory \(GB\) = 2\. Lower N, or raise Max memory \(GB\)"):
        _trainer("ns3d_taylor_green", problem_kw={"n": 1024}, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("memory")
def test_a_dataset_above_its_max_size_names_the_sample_count_and_the_max_size_field(tmp_path):
    with pytest.raises(ConfigError, match=r"^N train = 1,000,000: the dataset needs about [\d.]+ GB, above "
                                          r"Max dataset size \(GB\) = 2\. Lower N train, or raise Max dataset size"):
        _trainer("ns2d_operator", "fno", problem_kw={"n_train": 1_000_000}, runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("memory")
def test_a_run_folders_config_cannot_raise_the_memory_guard_above_the_machine(monkeypatch):
    """A foreign run's config.json with max_memory_gb=1024 meets the machine's limit anyway."""
    monkeypatch.setenv("SCIML_LAB_MAX_GB", "0.5")
    problem = get_problem("ns3d_taylor_green", n=256, max_memory_gb=1024)
    with pytest.raises(ValueError, match="above"):
        problem.solver()  # the solver's own guard, as a resumed run reaches it
    with pytest.raises(ConfigError, match=r"above the 0\.5 GB this machine allows"):
        Trainer(problem, get_model_config("mlp"), TrainConfig())


@pytest.mark.bad_input("cli")
def test_resume_with_an_empty_name_is_refused_and_starts_nothing(capsys, tmp_path):
    assert main(["train", "--resume", "", "--runs-dir", str(tmp_path), "--quiet"]) == 2
    assert "--resume needs the name or path of a saved run" in capsys.readouterr().err
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("cli")
def test_a_boolean_step_count_on_the_command_line_is_refused(capsys, tmp_path):
    assert main(["train", "--set", "steps=true", "--runs-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Steps must be a whole number" in err and "got true" in err
    assert list_runs(tmp_path) == []


@pytest.mark.bad_input("cli")
def test_an_unknown_setting_names_the_setting_and_the_allowed_ones(capsys, tmp_path):
    assert main(["train", "--set", "problem.viscosity=0.1", "--runs-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown setting 'viscosity' for Burgers 1D" in err and "nu" in err
    assert json.dumps(list_runs(tmp_path)) == "[]"


@pytest.mark.bad_input("validation")
def test_a_refusal_at_train_in_the_app_shows_the_message_and_saves_no_run(tmp_path):
    from widgets.app import LabApp

    app = LabApp(runs_dir=str(tmp_path))
    app.train_config.loss_weights = {"ics": 10}  # a mapping of numbers: the form accepts it
    app.train()
    assert app.alert.visible and "'ics' is not a loss term" in app.alert.object
    assert not app.training.running and list_runs(tmp_path) == []


def test_the_memory_limit_follows_a_containers_limit(tmp_path, monkeypatch):
    """On Binder the host has far more memory than the container may use."""
    from lab import limits

    monkeypatch.delenv("SCIML_LAB_MAX_GB", raising=False)
    cgroup = tmp_path / "memory.max"
    monkeypatch.setattr(limits, "CGROUP_LIMITS", (cgroup,))
    cgroup.write_text("max\n")
    host = limits.machine_limit_bytes()
    cgroup.write_text(f"{2 * 2**30}\n")
    assert limits.machine_limit_bytes() == min(host, 2 * 2**30)
    monkeypatch.setenv("SCIML_LAB_MAX_GB", "0.5")
    assert limits.machine_limit_bytes() == 2**29
