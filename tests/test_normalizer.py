"""The FNO paper's pointwise output normaliser: its statistics, its interpolation to other grids,
and its life in a run (fitted by the task, saved with the weights, used zero-shot)."""
import numpy as np
import pytest
import torch

from lab.models import get_model_config
from lab.models.fno import FNO
from lab.models.layers.normalizer import EPS, OutputNormalizer, resample
from lab.problems import get_problem
from lab.training.config import TrainConfig
from lab import session
from lab.training.tasks.operator import super_resolution
from lab.training.trainer import Trainer


def test_resample_keeps_shared_nodes_and_interpolates_linearly_between():
    x = torch.linspace(0, 1, 5, dtype=torch.float64)
    bounded = resample(x.reshape(1, 1, 5), (9,), (False,))
    assert torch.allclose(bounded[0, 0], torch.linspace(0, 1, 9, dtype=torch.float64), atol=1e-15)
    v = torch.tensor([1.0, 3.0, 2.0, 6.0], dtype=torch.float64)  # periodic: x_j = j / 4
    fine = resample(v.reshape(1, 1, 4), (8,), (True,))[0, 0]
    assert torch.equal(fine[::2], v)
    assert torch.allclose(fine[1::2], torch.tensor([2.0, 2.5, 4.0, 3.5], dtype=torch.float64))  # last wraps
    f = torch.randn(2, 1, 6, 4, 5, dtype=torch.float64)  # (x, y) periodic, t bounded: 5 -> 9 keeps t's nodes
    g = resample(f, (12, 8, 9), (True, True, False))
    assert g.shape == (2, 1, 12, 8, 9) and torch.allclose(g[..., ::2, ::2, ::2], f, atol=1e-14)
    with pytest.raises(ValueError, match="1 to 3 axes"):
        resample(torch.zeros(1, 1, 2, 2, 2, 2), (4, 4, 4, 4), (True,) * 4)


def test_fit_gives_the_pointwise_mean_and_standard_deviation():
    norm = OutputNormalizer(2, (5, 3), (True, False)).double()
    y = torch.randn(7, 4, 2, 5, 3, dtype=torch.float64) * 3 + 1  # (samples, frames, C, *grid)
    norm.fit(y)
    flat = y.reshape(28, 2, 5, 3).numpy()
    assert np.allclose(norm.mean[:, 0].numpy(), flat.mean(0))
    assert np.allclose(norm.std[:, 0].numpy(), flat.std(0, ddof=1) + EPS)
    v = torch.randn(2, 3, 5, 3, dtype=torch.float64)  # channel-major network output
    assert torch.allclose(norm(v), norm.mean + norm.std * v)
    with pytest.raises(ValueError, match=r"\(C, \*grid\) = \(2, 5, 3\)"):
        norm.fit(torch.zeros(7, 2, 5, 4))


def test_a_normalised_fno_on_a_finer_grid_decodes_with_the_interpolated_statistics():
    torch.manual_seed(0)
    model = FNO(1, 1, (3, 3, 3), width=6, n_layers=2, projection_channels=8, periodic=(True, True, False),
                domain_padding=0.25, normalizer_shape=(8, 8, 5)).double()
    model.normalizer.fit(torch.randn(10, 1, 8, 8, 5, dtype=torch.float64) + 2)
    plain = FNO.from_config({**model.config, "normalizer_shape": None}).double()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("normalizer.")})
    x = torch.randn(2, 1, 16, 16, 9, dtype=torch.float64)
    with torch.no_grad():
        out, raw = model(x), plain(x)
    mean = resample(model.normalizer.mean, (16, 16, 9), (True, True, False))
    std = resample(model.normalizer.std, (16, 16, 9), (True, True, False))
    assert torch.allclose(out, (mean + std * raw.transpose(0, 1)).transpose(0, 1))
    assert torch.equal(mean[..., ::2, ::2, ::2], model.normalizer.mean)  # exact on the shared nodes


def test_the_task_fits_the_normaliser_and_the_run_keeps_it(tmp_path):
    problem = get_problem("darcy_operator", n_train=24, n_val=8, batch_size=8, resolution=15, solve_resolution=29)
    model = get_model_config("fno", modes=4, width=8, n_layers=2, projection_channels=8, normalize_output=True)
    trainer = Trainer(problem, model, TrainConfig(steps=20, snapshot_every=20, device="cpu"), runs_dir=tmp_path)
    result = trainer.run()
    assert result.status == "completed", result.message
    y = problem.dataset("train")["y"].double()
    norm = trainer.model.normalizer
    assert torch.allclose(norm.mean[:, 0].double(), y.mean(0), atol=1e-6)
    assert torch.allclose(norm.std[:, 0].double(), y.std(0) + EPS, atol=1e-6)
    assert float(y.mean(0).abs().max()) > 1e-3  # the mean field is not zero: the check can fail
    _, snap, _ = session.evaluate(result.run_dir, tmp_path)  # rebuilt from the checkpoint alone
    assert snap.rel_l2 == pytest.approx(result.rel_l2, rel=1e-6)
    assert np.isfinite(super_resolution(trainer.model, problem, 29))


def test_a_rollout_normaliser_is_fitted_to_the_predicted_frames(tmp_path):
    problem = get_problem("ns2d_operator", n_train=4, n_val=2, batch_size=2, resolution=16, solve_resolution=32,
                          time_steps=4, history=2, rollout_steps=2, eval_steps=2)
    model = get_model_config("fno", modes=4, width=8, n_layers=2, projection_channels=8, normalize_output=True)
    trainer = Trainer(problem, model, TrainConfig(steps=2, snapshot_every=2, device="cpu"), runs_dir=tmp_path)
    assert trainer.run().status == "completed"
    frames = problem.dataset("train")["trajectories"][:, 2:]  # the frames a model predicts
    assert torch.allclose(trainer.model.normalizer.mean[:, 0], frames.mean((0, 1)), atol=1e-6)
