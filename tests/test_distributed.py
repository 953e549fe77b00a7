"""Data-parallel training: two gloo ranks on this CPU follow the one-process run.

Each rank takes every second point of the batch and the gradients are averaged, so for losses
that are means over points the two-rank run has the one-process gradients up to the order of
summation: in float64, weights agree to 1e-10 after Adam and L-BFGS (a check run's relative L2
errors agreed to 2e-16).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from lab.models import get_model_config
from lab.problems import get_problem
from lab.training import TrainConfig, find_run
from lab.training.distributed import Group, check, launch_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(tmp_path, name: str, args: list[str], nproc: int | None = None) -> tuple[dict, dict]:
    runs = tmp_path / name
    cmd = [sys.executable, "-m", "lab.cli", "train", "--runs-dir", str(runs), "--quiet", *args]
    if nproc:
        cmd += ["--nproc", str(nproc)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    weights = find_run(out["run_dir"], runs).read_checkpoint().weights
    return out, weights


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


PINN = ["--problem", "burgers", "--set", "dtype=float64", "steps=30", "lbfgs_steps=10", "n_pde=256",
        "n_ic=64", "n_bc=64", "model.width=16", "model.depth=2", "snapshot_every=20",
        "resample_every=10", "device=cpu"]


def test_two_gloo_ranks_train_a_pinn_as_one_process(tmp_path):
    one, w1 = _train(tmp_path, "one", PINN)
    two, w2 = _train(tmp_path, "two", PINN, nproc=2)
    assert two["ranks"] == 2 and two["status"] == one["status"] == "completed"
    assert two["step"] == one["step"] == 40
    assert _max_difference(w1, w2) < 1e-10
    assert abs(two["rel_l2"] - one["rel_l2"]) < 1e-9 * one["rel_l2"]
    run = find_run(two["run_dir"], tmp_path / "two")
    assert run.summary()["ranks"] == 2  # only rank 0 wrote the folder
    assert len(list((tmp_path / "two").iterdir())) == 1


OPERATOR = ["--problem", "burgers_operator", "--model", "fno", "--set", "dtype=float64", "steps=12",
            "problem.n_train=8", "problem.n_val=4", "problem.batch_size=4", "problem.resolution=16",
            "problem.solve_resolution=64", "model.modes=4", "model.width=8", "model.n_layers=2",
            "snapshot_every=12", "device=cpu"]


def test_two_gloo_ranks_train_an_operator_as_one_process(tmp_path):
    one, w1 = _train(tmp_path, "one", OPERATOR)
    two, w2 = _train(tmp_path, "two", OPERATOR, nproc=2)
    assert _max_difference(w1, w2) < 1e-10
    assert abs(two["rel_l2"] - one["rel_l2"]) < 1e-9


LEAVE = """
import os, sys
from lab.models import get_model_config
from lab.problems import get_problem
from lab.training import TrainConfig, distributed
from lab.training.preflight import training_needs
distributed.setup_from_environment()
training_needs(get_problem("burgers"), get_model_config("mlp"), TrainConfig())  # a meta-device build
distributed.teardown()
names = sorted(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task"))
with open(os.path.join(sys.argv[1], "rank" + os.environ["RANK"]), "w") as f:
    f.write(" ".join(names))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads a process's threads from /proc")
def test_a_rank_that_leaves_its_group_stops_gloos_threads(tmp_path):
    """A rank's gloo workers outliving its group could abort the process at exit after a completed
    run (a worker freeing a tensor once the interpreter had gone): the group must really go."""
    script = tmp_path / "leave.py"
    script.write_text(LEAVE)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    threads = {rank: (tmp_path / f"rank{rank}").read_text() for rank in (0, 1)}
    assert not [names for names in threads.values() if "gloo" in names], threads


@pytest.mark.bad_input("distributed")
@pytest.mark.parametrize("train, needle", [
    (dict(n_pde=255), "n_pde=255 must be a multiple of the 2 ranks"),
    (dict(n_bc=63), "n_bc=63 must be a multiple"),
    (dict(causal=True), "causal weighting"),
    (dict(balancing="grad_norm"), "loss balancing"),
])
def test_a_pinn_run_that_cannot_be_split_evenly_is_refused(train, needle):
    with pytest.raises(ValueError, match=needle):
        check(get_problem("burgers"), get_model_config("mlp"), TrainConfig(**train), Group(0, 2))


@pytest.mark.bad_input("distributed")
def test_an_operator_batch_that_cannot_be_split_and_an_ode_model_are_refused():
    with pytest.raises(ValueError, match="batch_size=5 must be a multiple of the 2 ranks"):
        check(get_problem("burgers_operator", batch_size=5), get_model_config("fno"), TrainConfig(), Group(1, 2))
    with pytest.raises(ValueError, match="covers PINN/PIG and operator models"):
        check(get_problem("lorenz63"), get_model_config("neural_ode"), TrainConfig(), Group(0, 2))


@pytest.mark.bad_input("distributed")
def test_nproc_below_one_is_refused_and_the_ranks_never_see_the_flag():
    with pytest.raises(ValueError, match="--nproc .* at least 1"):
        launch_command(0, [])
    cmd = launch_command(2, ["train", "--nproc", "2", "--steps", "5", "--nproc=2"])
    assert "--nproc-per-node=2" in cmd
    assert cmd[cmd.index("lab.cli") + 1:] == ["train", "--steps", "5"]


def test_a_rank_takes_every_worldth_point():
    x = torch.arange(10)
    assert Group(1, 2).shard(x).tolist() == [1, 3, 5, 7, 9]
    assert Group(0, 1).shard(x) is x


def _trainer(runs):
    from lab.training import Trainer

    train = TrainConfig(dtype="float64", steps=20, n_pde=128, n_ic=32, n_bc=32, snapshot_every=10,
                        resample_every=5, device="cpu")
    return Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2), train, runs_dir=runs)


def test_the_app_worker_trains_on_two_ranks_as_on_one(tmp_path):
    from lab.training.events import Snapshot
    from lab.training.process import ProcessTrainer

    weights = []
    for ranks in (1, 2):
        worker = ProcessTrainer(_trainer(tmp_path / str(ranks)), ranks=ranks)
        snaps = []
        worker.subscribe(lambda e: snaps.append(e) if isinstance(e, Snapshot) else None)
        worker.start()
        result = worker.join(timeout=600)
        assert result is not None and result.status == "completed", result
        assert [s.step for s in snaps] == [10, 20]  # rank 0 alone sends events
        assert all(not h.is_alive() for h in worker._helpers)
        weights.append(find_run(result.run_dir, tmp_path / str(ranks)).read_checkpoint().weights)
    assert _max_difference(*weights) < 1e-10


@pytest.mark.bad_input("distributed")
def test_the_app_offers_gpus_only_on_a_machine_with_several(monkeypatch):
    import widgets.app as app
    from lab.training.process import ProcessTrainer

    assert not app.LabApp(training_mode="process").gpus.visible  # this machine: no GPU
    monkeypatch.setattr(app, "gpu_count", lambda: 4)
    lab = app.LabApp(training_mode="process")
    assert lab.gpus.visible and lab.gpus.end == 4
    with pytest.raises(ValueError, match="GPUs .* must be at least 1"):
        ProcessTrainer(_trainer(None), ranks=0)
