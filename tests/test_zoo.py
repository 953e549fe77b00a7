"""The model zoo: every shipped entry loads on the CPU and reproduces its recorded error;
damaged files are refused by name; ``zoo add`` stores float16 only where it keeps the error."""
from __future__ import annotations

import json
import shutil

import panel as pn
import pytest
import torch
from safetensors import safe_open

from lab import TrainConfig, Trainer, get_model_config, get_problem, zoo
from lab.cli import main
from lab.zoo import CARD, REPRODUCE_RTOL, WEIGHTS, ZooDamaged, half_meets

SHIPPED = [r["name"] for r in zoo.list()]
#: what the repository may hold in all (the issue's budget), and per entry
ZOO_BUDGET, ENTRY_BUDGET = 40 * 2**20, 2 * 2**20
PROVENANCE = ("problem", "model", "rel_l2", "rel_l2_trained", "rel_l2_float16", "dtype", "half_tolerance",
              "status", "steps", "planned", "wall_s", "device", "processor", "torch", "trained", "commit", "sha256", "bytes")


def _tiny_trainer(runs_dir) -> Trainer:
    return Trainer(get_problem("burgers", nu=0.02), get_model_config("mlp", width=6, depth=2),
                   TrainConfig(steps=12, n_pde=64, n_ic=16, n_bc=16, device="cpu", lr=1e-2, log_every=2,
                               snapshot_every=4, checkpoint_every=4), runs_dir=runs_dir)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A zoo folder with one entry made from a tiny Burgers run trained here."""
    root = tmp_path_factory.mktemp("zoo-test")
    result = _tiny_trainer(root / "runs").run()
    assert result.status == "completed", result.message
    card = zoo.add(result.run_dir, "tiny", root / "zoo", description="a test entry")
    return root / "zoo", card, result


def _stored_dtypes(path) -> set[torch.dtype]:
    with safe_open(str(path), framework="pt") as f:
        return {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()}


def test_the_repository_ships_a_zoo_within_its_budget():
    assert SHIPPED, "no zoo entries"
    sizes = {p: p.stat().st_size for p in zoo.zoo_dir().rglob("*") if p.is_file()}
    assert sum(sizes.values()) <= ZOO_BUDGET
    assert all(n <= ENTRY_BUDGET for n in sizes.values()), sizes


def test_the_zoo_is_reached_from_the_package_as_users_type_it():
    import lab

    assert lab.zoo is zoo and "zoo" in lab.__all__
    assert [r["name"] for r in lab.zoo.list()] == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_zoo_entry_loads_on_the_cpu_and_reproduces_its_recorded_error(name):
    entry = zoo.load(name)
    card = entry.card
    assert not (missing := [k for k in PROVENANCE if card.get(k) is None]), missing
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in entry.model.parameters())
    assert not entry.model.training
    snap = entry.evaluate()  # the path a saved run's Open takes
    assert snap.rel_l2 == pytest.approx(card["rel_l2"], rel=REPRODUCE_RTOL)
    # half precision only where the stored model still meets its row's error
    assert _stored_dtypes(zoo.zoo_dir() / name / WEIGHTS) == {getattr(torch, card["dtype"])}
    if card["dtype"] == "float16":
        assert half_meets(snap.rel_l2, card["rel_l2_trained"], card["half_tolerance"])
    assert entry.history() and entry.history()[-1]["step"] <= card["steps"]


def test_zoo_add_stores_half_precision_where_it_keeps_the_error_and_records_it(tiny):
    root, card, result = tiny
    assert card["dtype"] == ("float16" if half_meets(card["rel_l2_float16"], card["rel_l2_trained"],
                                                     card["half_tolerance"]) else "float32")
    assert _stored_dtypes(root / "tiny" / WEIGHTS) == {getattr(torch, card["dtype"])}
    assert card["rel_l2_trained"] == pytest.approx(result.rel_l2, rel=1e-6)  # the run's own figure
    entry = zoo.load("tiny", root)
    assert entry.evaluate().rel_l2 == pytest.approx(card["rel_l2"], rel=1e-9)
    assert card["device"].startswith("CPU (") and card["steps"] == 12 and card["run"] == result.run_dir.split("/")[-1]


def test_zoo_add_keeps_float32_where_half_precision_would_not_meet_the_error(tiny, monkeypatch, tmp_path):
    _, _, result = tiny
    monkeypatch.setattr(zoo, "half_meets", lambda *_: False)
    card = zoo.add(result.run_dir, "tiny32", tmp_path)
    assert card["dtype"] == "float32" and _stored_dtypes(tmp_path / "tiny32" / WEIGHTS) == {torch.float32}
    assert card["rel_l2"] == pytest.approx(card["rel_l2_trained"], rel=1e-9)


def test_a_stopped_run_becomes_an_entry_whose_card_says_it_stopped_short_of_its_plan(tmp_path):
    from lab.training.events import Step

    tr = _tiny_trainer(tmp_path / "runs")
    tr.subscribe(lambda e: tr.stop() if isinstance(e, Step) and e.step == 6 else None)
    result = tr.run()
    assert result.status == "stopped"
    card = zoo.add(result.run_dir, "stopped", tmp_path / "zoo")
    assert card["status"] == "stopped" and card["steps"] < card["planned"]["adam"] == 12
    assert zoo.load("stopped", tmp_path / "zoo").evaluate().rel_l2 == pytest.approx(card["rel_l2"], rel=1e-9)


def test_half_meets_allows_the_stated_tolerance_and_no_more():
    assert half_meets(1.0e-3, 1.0e-3) and half_meets(1.009e-3, 1.0e-3, 0.01) and half_meets(0.9e-3, 1.0e-3)
    assert not half_meets(1.011e-3, 1.0e-3, 0.01)


def test_zoo_add_refuses_a_bad_name_an_existing_entry_and_a_negative_tolerance(tiny):
    root, _, result = tiny
    for bad in ("Tiny", "../x", ""):
        with pytest.raises(ValueError, match="lower-case"):
            zoo.add(result.run_dir, bad, root)
    with pytest.raises(ValueError, match="exists"):
        zoo.add(result.run_dir, "tiny", root)
    with pytest.raises(ValueError, match="tolerance"):
        zoo.add(result.run_dir, "other", root, tolerance=-0.1)


def test_a_flipped_byte_in_a_weights_file_is_refused_naming_the_file(tiny, tmp_path):
    root, _, _ = tiny
    name = SHIPPED[0] if SHIPPED else "tiny"
    shutil.copytree((zoo.zoo_dir() if SHIPPED else root) / name, tmp_path / name)
    weights = tmp_path / name / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-7] ^= 0x01  # inside the last tensor's bytes
    weights.write_bytes(bytes(data))
    with pytest.raises(ZooDamaged, match=str(weights)) as err:
        zoo.load(name, tmp_path)
    assert "SHA-256" in str(err.value) and err.value.path == weights
    weights.unlink()
    with pytest.raises(ZooDamaged, match="missing"):
        zoo.load(name, tmp_path)


def test_a_damaged_card_is_listed_with_its_reason_and_an_unfinished_add_is_not_listed(tiny, tmp_path):
    root, _, _ = tiny
    shutil.copytree(root / "tiny", tmp_path / "tiny")
    shutil.copytree(root / "tiny", tmp_path / ".other.adding")  # an add killed half-way
    (tmp_path / "tiny" / CARD).write_text("{not json")
    [row] = zoo.list(tmp_path)
    assert row["name"] == "tiny" and "not valid JSON" in row["damaged"] and str(tmp_path / "tiny" / CARD) in row["damaged"]
    with pytest.raises(ZooDamaged, match="not valid JSON"):
        zoo.load("tiny", tmp_path)


def test_an_unknown_entry_is_refused_with_the_known_ones(tiny):
    root, _, _ = tiny
    with pytest.raises(ValueError, match=r"no zoo entry 'nope' .*entries: tiny"):
        zoo.load("nope", root)


def test_zoo_list_and_show_on_the_command_line(tiny, capsys):
    root, card, _ = tiny
    assert main(["zoo", "list", "--zoo", str(root)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tiny") and "burgers" in line and card["dtype"] in line and card["device"] in line
    assert main(["zoo", "list", "--json", "--zoo", str(root)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["name"] == "tiny" and row["rel_l2"] == card["rel_l2"]
    assert main(["zoo", "show", "tiny", "--zoo", str(root)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["card"] == json.loads((root / "tiny" / CARD).read_text())
    assert shown["config"]["problem"]["key"] == "burgers"
    assert main(["zoo", "show", "nope", "--zoo", str(root)]) == 2
    assert "no zoo entry 'nope'" in capsys.readouterr().err
    assert main(["zoo", "list"]) == 0  # the repository's own zoo
    listed = capsys.readouterr().out
    assert all(name in listed for name in SHIPPED)


def test_zoo_add_on_the_command_line(tiny, capsys, tmp_path):
    _, _, result = tiny
    assert main(["zoo", "add", result.run_dir, "--name", "cli-entry", "--zoo", str(tmp_path)]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "cli-entry" and (tmp_path / "cli-entry" / CARD).is_file()
    assert main(["zoo", "add", result.run_dir, "--zoo", str(tmp_path)]) == 2
    assert "--name" in capsys.readouterr().err


def test_loading_a_zoo_entry_in_the_app_shows_its_fields_in_every_view(tiny, tmp_path, monkeypatch):
    from widgets.app import LabApp

    root, card, _ = tiny
    monkeypatch.setenv("SCIML_LAB_ZOO", str(root))
    app = LabApp(runs_dir=str(tmp_path / "runs"))
    pn.panel(app).get_root()
    app.problem_view.picker.value = "poisson2d"
    assert list(app.runs.zoo_picker.options.values()) == ["tiny"]
    app.runs.zoo_button.clicks += 1  # "Load a trained model"
    view = app.training
    assert app.problem_view.picker.value == "burgers" and app.problem_view.problem.nu == 0.02
    assert app.model_picker.value == "mlp" and app.model_config.width == 6
    assert view.fields.snapshot.step == card["steps"] and set(view.fields.snapshot.fields) >= {
        "prediction", "reference", "error"}
    assert view.rel_l2 == pytest.approx(card["rel_l2"], rel=1e-9)
    assert view.loss_history.data["step"].tolist() == [2, 4, 6, 8, 10, 12]
    assert "tiny" in view.status.object and "zoo" in view.status.object
    app.runs.refresh()  # Refresh lists the zoo again, the pick kept
    assert app.runs.zoo_picker.value == "tiny" and not app.runs.zoo_button.disabled
    assert app.tabs.active == 1 and not app.alert.visible
    # the Diagnostics tab looks at it too
    app.diagnostics.refresh_runs()
    app.diagnostics.picker.value = "zoo: tiny"
    app.diagnostics.load()
    assert not app.diagnostics.alert.visible and "tiny" in app.diagnostics.status.object


def _seed_sweeps() -> dict[str, dict]:
    """The sweeps the cards quote: ``benchmarks/zoo_seeds.py``'s, and the Burgers recipe's own
    (``benchmarks/burgers_pinn.py``: the CLI's default recipe, the one ``burgers-pinn`` holds)."""
    import importlib.util

    bench = zoo.zoo_dir().parent / "benchmarks"
    spec = importlib.util.spec_from_file_location("zoo_seeds", bench / "zoo_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sweeps = module.summaries()
    burgers = [json.loads(line) for line in (bench / "results" / "burgers_pinn.jsonl").read_text().splitlines()]
    [*_, cpu] = [x for x in burgers if x["benchmark"] == "burgers_pinn_seeds" and x["recipe"] == "default"
                 and x["device"] == "cpu"]
    sweeps["burgers-pinn"] = {"seeds": cpu["seeds"], "min": cpu["min"], "median": cpu["median"],
                              "max": cpu["max"], "device": cpu["device"], "file": "burgers_pinn.jsonl"}
    return sweeps


def test_every_entry_states_its_spread_over_seeds_as_its_sweep_measured_it():
    sweeps = _seed_sweeps()
    for name in SHIPPED:
        seeds = zoo.show(name)["card"].get("seeds")
        assert seeds, f"{name}: the card does not state its spread over seeds"
        if seeds["seeds"] == 1:  # only the entry's own seed, and why
            assert seeds["why"], name
            continue
        assert seeds == sweeps[name], name  # the card quotes its results file
        assert seeds["min"] <= seeds["median"] <= seeds["max"]
        assert zoo.spread({"seeds": seeds}) == f"{seeds['seeds']} seeds {seeds['min']:.1e}..{seeds['max']:.1e}"


def test_a_seed_summary_without_a_count_or_a_single_seed_without_a_reason_is_refused(tiny):
    root, _, _ = tiny
    for bad in ({"min": 1e-3}, {"seeds": 0}, {"seeds": 1}):
        with pytest.raises(ValueError, match="seed"):
            zoo.set_seeds("tiny", bad, root)
    card = zoo.set_seeds("tiny", {"seeds": 1, "why": "a test entry"}, root)
    assert zoo.show("tiny", root)["card"]["seeds"] == card["seeds"] and zoo.spread(card) == "1 seed"


def test_an_entry_trained_on_a_gpu_is_retrained_on_the_device_this_machine_has():
    gpu_trained = [n for n in SHIPPED if zoo.show(n)["config"]["train"]["device"] == "cuda"]
    assert gpu_trained and all("NVIDIA" in zoo.show(n)["card"]["device"] for n in gpu_trained)
    for name in gpu_trained:
        _, _, train = zoo.load(name).spec.build()
        assert train.device == "auto"  # a CPU-only machine trains it on its CPU, not refusing "cuda"
