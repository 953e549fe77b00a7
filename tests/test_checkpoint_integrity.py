"""A damaged checkpoint is refused by name, and the run's result survives the refusal."""
import json
import re
from types import SimpleNamespace

import pytest
import torch

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.training.checkpoint import read_checkpoint, save_checkpoint
from lab.training.runs import CHECKPOINT, find_run


def _flip_last_data_byte(data: bytes) -> bytes:
    """One bit of the last tensor's bytes: safetensors alone loads such a file."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _edit_step(data: bytes) -> bytes:
    """The step in the header's metadata, 7 -> 9: the header stays valid JSON."""
    edited, n = re.subn(rb'(\\"step\\": )7', rb"\g<1>9", data, count=1)
    assert n == 1
    return edited


DAMAGE = {"flipped data bit": _flip_last_data_byte, "truncated": _truncate, "edited metadata": _edit_step}


@pytest.fixture
def finished_run(tmp_path):
    cfg = TrainConfig(steps=7, log_every=7, snapshot_every=7, n_pde=32, n_ic=8, n_bc=8, device="cpu")
    result = Trainer(get_problem("heat"), get_model_config("mlp", width=4, depth=1), cfg, runs_dir=tmp_path).run()
    assert result.status == "completed"
    return find_run(result.run_dir)


@pytest.mark.fault("checkpoint")
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_the_result_is_kept(finished_run, damage):
    path = finished_run.path / CHECKPOINT
    summary = (finished_run.path / "summary.json").read_text()
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    damaged = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_checkpoint(path)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        Trainer.resume(str(finished_run.path), steps=3)
    assert (finished_run.path / "summary.json").read_text() == summary
    assert json.loads(summary)["status"] == "completed"
    assert path.read_bytes() == damaged  # left as it was, for the user to inspect


def test_a_checkpoint_reads_back_what_was_saved(tmp_path):
    """Weights, Adam moments and a loop-state tree (tensors, numbers, None, lists, int keys)."""
    model = torch.nn.Linear(3, 2).double()
    state = {"task": {"generator": torch.Generator().manual_seed(5).get_state(), "drawn_for": None,
                      "batch": {"pde": torch.rand(4, 2)}},
             "lbfgs": {"end": 12, "state": {0: {"n_iter": 3, "t": 0.5, "old_dirs": [torch.ones(2), torch.zeros(2)],
                                                "al": [None, torch.tensor(1.0)]}}}}
    moments = {0: {"exp_avg": torch.ones(2, 3), "step": torch.tensor(4.0)}}
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"step": 7}, moments, state)
    ckpt = read_checkpoint(path)
    assert ckpt.metadata == {"step": 7}
    assert all(torch.equal(ckpt.weights[k], v) for k, v in model.state_dict().items())
    assert torch.equal(ckpt.optimizer[0]["exp_avg"], moments[0]["exp_avg"])
    got = ckpt.state
    assert torch.equal(got["task"]["generator"], state["task"]["generator"]) and got["task"]["drawn_for"] is None
    assert torch.equal(got["task"]["batch"]["pde"], state["task"]["batch"]["pde"])
    lb = got["lbfgs"]["state"][0]  # the int key comes back an int, as Optimizer.load_state_dict needs
    assert got["lbfgs"]["end"] == 12 and lb["n_iter"] == 3 and lb["t"] == 0.5
    assert [d.tolist() for d in lb["old_dirs"]] == [[1.0, 1.0], [0.0, 0.0]]
    assert lb["al"][0] is None and float(lb["al"][1]) == 1.0


@pytest.mark.fault("checkpoint")
def test_a_training_state_that_does_not_fit_the_run_fails_it_with_a_message(finished_run):
    """A checkpoint whose task state lacks a field (written by hand, or by another version)
    ends the continued run as failed, with a message naming the run, not a KeyError trace."""
    path = finished_run.path / CHECKPOINT
    ckpt = read_checkpoint(path)
    del ckpt.state["task"]["drawn_for"]
    same_weights = SimpleNamespace(state_dict=lambda: ckpt.weights)
    save_checkpoint(path, same_weights, ckpt.metadata, ckpt.optimizer, ckpt.state)
    result = Trainer.resume(str(finished_run.path), steps=2).run()
    assert result.status == "failed"
    assert finished_run.name in result.message and "does not fit" in result.message
