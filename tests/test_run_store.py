"""The run store survives damage: a malformed folder is listed as damaged with its file and
reason while every other run keeps working; damaged metrics lines hide nothing after them; a
continued run repeats no rows; a failed continuation keeps the earlier result; names never
collide; writes never follow a symbolic link; temporary files of killed writes are removed."""
from __future__ import annotations

import json
import logging
import shutil
import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.cli import main
from lab.training import runs
from lab.training.events import Step
from lab.training.runs import RunRecord, find_run, list_runs

TINY = dict(steps=20, n_pde=32, n_ic=8, n_bc=8, log_every=1, snapshot_every=10, checkpoint_every=10,
            device="cpu")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One finished tiny run (heat, 20 steps), copied by each test that damages it."""
    folder = tmp_path_factory.mktemp("made")
    result = Trainer(get_problem("heat"), get_model_config("mlp", width=4, depth=1), TrainConfig(**TINY),
                     runs_dir=folder).run()
    assert result.status == "completed"
    return folder / result.run_dir.rsplit("/", 1)[-1]


def _copy(made, runs_dir, name):
    runs_dir.mkdir(parents=True, exist_ok=True)
    return shutil.copytree(made, runs_dir / name)


def _damage_config(value):
    return lambda run: (run / "config.json").write_text(value)


def _edit_json(file, edit):
    def damage(run):
        data = json.loads((run / file).read_text())
        edit(data)
        (run / file).write_text(json.dumps(data))
    return damage


DAMAGES = {
    "config-not-json": ("config.json", _damage_config('{"problem": {"key": "heat"')),
    "config-empty-object": ("config.json", _damage_config("{}")),
    "config-a-list": ("config.json", _damage_config("[1, 2]")),
    "config-problem-a-string": ("config.json", _edit_json("config.json", lambda d: d.update(problem="heat"))),
    "config-train-missing": ("config.json", _edit_json("config.json", lambda d: d.pop("train"))),
    "config-binary-garbage": ("config.json", lambda run: (run / "config.json").write_bytes(b"\xff\xfe\x00garbage")),
    "config-missing": ("config.json", lambda run: (run / "config.json").unlink()),
    "summary-missing": ("summary.json", lambda run: (run / "summary.json").unlink()),
    "summary-not-json": ("summary.json", lambda run: (run / "summary.json").write_text("{\"status\": ")),
    "summary-step-a-string": ("summary.json", _edit_json("summary.json", lambda d: d.update(step="ten"))),
    "summary-rel-l2-a-list": ("summary.json", _edit_json("summary.json", lambda d: d.update(rel_l2=[1]))),
    "summary-unknown-status": ("summary.json", _edit_json("summary.json", lambda d: d.update(status=7))),
    "checkpoint-missing": ("checkpoint.safetensors", lambda run: (run / "checkpoint.safetensors").unlink()),
    "checkpoint-garbage": ("checkpoint.safetensors",
                           lambda run: (run / "checkpoint.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"not json")),
    "checkpoint-of-another-model": ("checkpoint.safetensors", _edit_json(
        "config.json", lambda d: d["model"]["params"].update(width=16))),
}


@pytest.mark.fault("run-store")
@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_run_is_listed_with_its_file_and_reason_and_the_others_keep_working(made, tmp_path, capsys, case):
    file, damage = DAMAGES[case]
    runs_dir = tmp_path / "runs"
    good = _copy(made, runs_dir, "20260101-000000-heat-mlp-good")
    bad = _copy(made, runs_dir, "20260102-000000-heat-mlp-bad")
    damage(bad)

    rows = {r["name"]: r for r in list_runs(runs_dir)}
    assert rows[good.name]["status"] == "completed"
    assert rows[bad.name]["status"] == "damaged" and rows[bad.name]["note"].startswith(f"{file}: ")

    assert main(["runs", "list", "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{bad.name}" in out and "damaged" in out and file in out and good.name in out
    assert main(["runs", "show", bad.name, "--runs-dir", str(runs_dir)]) == 1
    assert json.loads(capsys.readouterr().out)["damage"].startswith(f"{file}: ")
    assert main(["runs", "show", good.name, "--runs-dir", str(runs_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["status"] == "completed"
    # continuing it is refused with the file and reason; the good run continues
    assert main(["train", "--resume", bad.name, "--steps", "1", "--quiet", "--runs-dir", str(runs_dir)]) == 2
    assert bad.name in capsys.readouterr().err
    assert Trainer.resume(good.name, steps=1, runs_dir=runs_dir).run().status == "completed"


@pytest.mark.fault("run-store")
def test_the_saved_runs_view_shows_a_damaged_run_with_its_reason_and_opens_the_others(made, tmp_path):
    from widgets.runs_view import RunsView

    runs_dir = tmp_path / "runs"
    good = _copy(made, runs_dir, "20260101-000000-heat-mlp-good")
    bad = _copy(made, runs_dir, "20260102-000000-heat-mlp-bad")
    (bad / "config.json").write_text("{}")
    opened, errors = [], []
    view = RunsView(runs_dir, on_open=lambda *a: opened.append(a), on_error=errors.append)
    table = view.table.value
    assert list(table["name"]) == [bad.name, good.name]
    assert table.iloc[0]["status"] == "damaged" and table.iloc[0]["note"].startswith("config.json: ")
    view.table.selection = [0]
    view.open_selected()
    view.continue_selected()
    assert len(errors) == 2 and all(bad.name in e and "config.json" in e for e in errors) and not opened
    view.table.selection = [1]
    view.open_selected()
    assert len(opened) == 1 and opened[0][1].step == 20


@pytest.mark.fault("metrics")
@pytest.mark.parametrize("bad_line", [b'{"step": 3, "total": 0.', b"\x00\xff garbage", b"[1, 2]", b'{"total": 1.0}'],
                         ids=["torn", "binary", "not-an-object", "no-step"])
def test_a_damaged_metrics_line_is_skipped_with_a_warning_and_later_rows_are_kept(tmp_path, caplog, bad_line):
    run = tmp_path / "run"
    run.mkdir()
    rows = [{"step": s, "total": 1.0 / s} for s in range(1, 6)]
    lines = [json.dumps(r).encode() for r in rows]
    (run / "metrics.jsonl").write_bytes(b"\n".join(lines[:2] + [bad_line] + lines[2:]) + b"\n")
    with caplog.at_level(logging.WARNING, logger="lab.training.runs"):
        assert RunRecord(run).metrics() == rows
    assert "skipped 1 damaged line(s): 3" in caplog.text


@pytest.mark.fault("metrics")
def test_a_continued_run_drops_the_rows_a_killed_session_logged_after_the_checkpoint(made, tmp_path):
    run = _copy(made, tmp_path / "runs", "20260101-000000-heat-mlp-killed")
    # a session killed at step 24, after the step-20 checkpoint, left rows 21..24 and a torn line
    with open(run / "metrics.jsonl", "a") as f:
        for s in range(21, 25):
            f.write(json.dumps({"step": s, "phase": "adam", "total": 1.0}) + "\n")
        f.write('{"step": 25, "to')
    result = Trainer.resume(str(run), steps=6).run()
    assert result.status == "completed" and result.step == 26
    steps = [r["step"] for r in RunRecord(run).metrics() if "total" in r]
    assert steps == list(range(1, 27))


@pytest.mark.fault("run-store")
def test_a_failed_continuation_keeps_the_earlier_result_and_records_the_failure(made, tmp_path):
    run = _copy(made, tmp_path / "runs", "20260101-000000-heat-mlp-done")
    before = json.loads((run / "summary.json").read_text())
    trainer = Trainer.resume(str(run), steps=10)

    def poison(ev):  # a NaN weight makes the continuation diverge
        if isinstance(ev, Step) and ev.step == 23:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
    trainer.subscribe(poison)
    assert trainer.run().status == "failed"
    after = json.loads((run / "summary.json").read_text())
    assert after["step"] == before["step"] == 20 and after["rel_l2"] == before["rel_l2"] is not None
    assert after["status"] == "failed" and "non-finite" in after["failure"]["message"]
    assert after["failure"]["step"] >= 23
    [row] = list_runs(tmp_path / "runs")
    assert row["rel_l2"] == before["rel_l2"]


@pytest.mark.fault("run-store")
def test_runs_of_one_problem_and_model_created_in_the_same_second_get_different_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.secrets, "token_hex", lambda n: "ab" * n)
    monkeypatch.setattr(runs.time, "strftime", lambda *a: "20260101-000000")
    config = {"problem": {"key": "heat", "params": {}}, "model": {"kind": "mlp", "params": {}}, "train": {}}
    a = RunRecord.create(config, tmp_path)
    b = RunRecord.create(config, tmp_path)
    assert a.path != b.path and a.config()["problem"]["key"] == b.config()["problem"]["key"] == "heat"
    for rec in (a, b):
        rec.finish(status="failed", step=0, rel_l2=None, message="no checkpoint yet")
    assert sorted(r["name"] for r in list_runs(tmp_path)) == sorted([a.name, b.name])


def _link_metrics(run, outside):
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(outside / "precious.txt")


def _link_folder(run, outside):
    shutil.rmtree(outside)
    run.rename(outside)
    run.symlink_to(outside, target_is_directory=True)


@pytest.mark.fault("run-store")
@pytest.mark.parametrize("link", [_link_metrics, _link_folder], ids=["metrics-file", "run-folder"])
def test_writes_never_follow_a_symbolic_link_out_of_the_runs_folder(made, tmp_path, link):
    runs_dir = tmp_path / "runs"
    run = _copy(made, runs_dir, "20260101-000000-heat-mlp-linked")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me\n")
    link(run, outside)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    [row] = list_runs(runs_dir)
    assert row["status"] == "damaged" and "symbolic link" in row["note"]
    with pytest.raises(ValueError, match="symbolic link"):
        Trainer.resume(run.name, steps=2, runs_dir=runs_dir).run()
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before


@pytest.mark.fault("run-store")
def test_temporary_files_of_killed_writes_are_removed_when_the_run_is_continued(made, tmp_path):
    run = _copy(made, tmp_path / "runs", "20260101-000000-heat-mlp-orphans")
    for name in (".checkpoint.safetensors.x1y2.tmp", ".summary.json.a8b9.tmp", "tmpk3j4l5.tmp"):
        (run / name).write_bytes(b"half a file")
    assert Trainer.resume(str(run), steps=1).run().status == "completed"
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    assert find_run(str(run)).summary()["step"] == 21


@pytest.mark.fault("run-store")
def test_a_checkpoint_of_another_network_is_refused_on_open_naming_the_file(made, tmp_path):
    from lab.training.checkpoint import save_checkpoint
    from lab import session

    run = _copy(made, tmp_path / "runs", "20260101-000000-heat-mlp-swapped")
    other = get_model_config("mlp", width=6, depth=1).build(get_problem("heat"))
    save_checkpoint(run / "checkpoint.safetensors", other, {"step": 20})  # no config to compare with
    with pytest.raises(ValueError, match=r"checkpoint\.safetensors: does not fit the model config\.json"):
        session.evaluate(str(run))


@pytest.mark.fault("run-store")
def test_a_killed_run_lists_as_interrupted_at_its_checkpoint_and_continues_from_there(made, tmp_path):
    runs_dir = tmp_path / "runs"
    run = _copy(made, runs_dir, "20260101-000000-heat-mlp-killed")
    # killed after its step-20 checkpoint: the summary still says what it said while training
    (run / "summary.json").write_text(json.dumps({"status": "running", "step": 0, "rel_l2": None}))
    [row] = list_runs(runs_dir)
    assert (row["status"], row["step"]) == ("interrupted", 20) and "from step 20" in row["note"]
    result = Trainer.resume(run.name, steps=2, runs_dir=runs_dir).run()
    assert (result.status, result.step) == ("completed", 22)
    [row] = list_runs(runs_dir)
    assert (row["status"], row["step"]) == ("completed", 22)
