"""Operator datasets: reproducible by seed, cached with corruption detection, sane statistics."""
import json
import math

import numpy as np
import pytest
import torch

from lab.data import cache
from lab.data.datasets import BurgersData, DarcyData, KSData, NS2DData, Turbulence3DData, spectral_truncate
from lab.device import describe
from lab.problems import get_problem
from lab.solvers import grf


def test_same_seed_same_data_other_seed_other_data():
    spec = dict(n_samples=3, solve_resolution=64, resolution=32, solver_batch=2, t_end=0.2)
    a, b = BurgersData(seed=1, **spec).generate(), BurgersData(seed=1, **spec).generate()
    c = BurgersData(seed=2, **spec).generate()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.allclose(a["x"], c["x"])
    # batching does not change the samples: one solver call or two give the same set
    d = BurgersData(seed=1, **{**spec, "solver_batch": 3}).generate()
    assert np.allclose(a["y"], d["y"], atol=1e-6)


def test_subsampling_gives_the_same_samples_at_two_resolutions():
    fine = DarcyData(n_samples=2, solve_resolution=29, resolution=29).generate()
    coarse = DarcyData(n_samples=2, solve_resolution=29, resolution=15).generate()
    assert np.array_equal(fine["y"][..., ::2, ::2], coarse["y"])
    # the solution: zero on the boundary, positive inside (f = 1 > 0, maximum principle)
    assert np.all(fine["y"][..., 0, :] == 0) and fine["y"][..., 1:-1, 1:-1].min() > 0
    assert set(np.unique(fine["x"])) == {3.0, 12.0}


def test_cache_roundtrip_and_corruption_is_regenerated(tmp_path):
    spec = DarcyData(n_samples=2, solve_resolution=9, resolution=9)
    data = cache.load_or_generate(spec, directory=tmp_path)
    key = cache.key_for(spec)
    npz, meta = tmp_path / f"{key}.npz", tmp_path / f"{key}.json"
    info = json.loads(meta.read_text())
    assert info["params"]["solve_resolution"] == 9 and info["arrays"]["y"]["sha256"] == cache.sha256(data["y"])
    assert all(np.array_equal(cache.load(spec, tmp_path)[k], data[k]) for k in data)
    # truncated file -> not used, regenerated identically
    raw = npz.read_bytes()
    npz.write_bytes(raw[: len(raw) // 2])
    assert cache.load(spec, tmp_path) is None
    again = cache.load_or_generate(spec, directory=tmp_path)
    assert np.array_equal(again["y"], data["y"])
    # an array replaced behind the checksum's back -> rejected
    np.savez(npz, x=data["x"], y=data["y"] + 1)
    assert cache.load(spec, tmp_path) is None
    # other parameters -> other entry
    assert cache.key_for(DarcyData(n_samples=2, solve_resolution=9, resolution=5)) != key


def test_size_estimate_refuses_before_generating(tmp_path):
    big = NS2DData(n_samples=10_000, resolution=256, solve_resolution=256, time_steps=50)
    assert big.estimate_bytes()["disk"] == 10_000 * 51 * 256 * 256 * 4
    with pytest.raises(ValueError, match="max_gb"):
        cache.load_or_generate(big, max_gb=1.0, directory=tmp_path)
    assert not list(tmp_path.iterdir())


def test_grf_statistics_match_the_covariance():
    """Sample variance of the Burgers GRF vs the exact sum_k sigma^2 (4 pi^2 k^2 + tau^2)^-alpha."""
    n, alpha, tau, sigma, batch = 64, 2.0, 5.0, 25.0, 4000
    u = grf.grf((n,), alpha, tau, batch, torch.Generator().manual_seed(0), sigma=sigma, lengths=1.0)
    m = torch.fft.fftfreq(n, 1 / n).double()
    lam = (4 * math.pi**2 * m**2 + tau**2) ** (-alpha)
    lam[0] = 0
    expected = float(sigma**2 * lam.sum())
    var = float(u.var())
    assert abs(var / expected - 1) < 0.05  # 4000 samples x 64 correlated points: ~2% noise
    assert abs(float(u.mean())) < 0.05 * math.sqrt(expected)


def test_rollout_sets_have_the_advertised_layout():
    ks = KSData(n_samples=2, resolution=32, time_steps=3, burn_in=5.0).generate()["u"]
    assert ks.shape == (2, 4, 32)
    assert abs(ks.mean()) < 1e-5  # KS conserves the zero mean of its initial field
    t3 = Turbulence3DData(n_samples=1, solve_resolution=12, resolution=8, time_steps=1).generate()["u"]
    assert t3.shape == (1, 2, 3, 8, 8, 8)
    e = 0.5 * (t3.astype(np.float64) ** 2).sum(2).mean(axis=(-3, -2, -1))[0]
    assert e[1] < e[0] <= 0.5 + 1e-6  # decaying, and filtering only removes energy


def test_spectral_truncation_is_exact_for_resolved_modes():
    x = torch.arange(16, dtype=torch.float64) * 2 * math.pi / 16
    f = torch.sin(2 * x)[:, None] * torch.cos(3 * x)[None, :] + torch.cos(7 * x)[:, None]
    g = spectral_truncate(f, (8, 8))
    xc = x[::2]
    assert torch.allclose(g, torch.sin(2 * xc)[:, None] * torch.cos(3 * xc)[None, :], atol=1e-13)


# ---- resumable generation -------------------------------------------------------------------
RESUMABLE = dict(n_samples=7, solve_resolution=64, resolution=32, solver_batch=2, t_end=0.2)  # chunks 2, 2, 2, 1


class _Interrupted(Exception):
    pass


def stop_at(samples):
    """A progress callback that ends the generation once ``samples`` are done, as Stop does."""
    def progress(done, total):
        if done >= samples:
            raise _Interrupted
    return progress


@pytest.fixture(scope="module")
def uninterrupted():
    return BurgersData(**RESUMABLE).generate()


@pytest.fixture
def solves(monkeypatch):
    """Batch size of every ``_generate`` call; the call numbered ``solves.fail_at`` raises instead."""
    calls = []
    solve = BurgersData._generate

    def counted(self, batch, generator, device):
        calls.append(batch)
        if len(calls) == getattr(counted, "fail_at", None):
            raise _Interrupted
        return solve(self, batch, generator, device)

    monkeypatch.setattr(BurgersData, "_generate", counted)
    counted.calls = calls
    return counted


def test_an_interrupted_generation_resumes_to_the_same_arrays(tmp_path, uninterrupted, solves):
    spec = BurgersData(**RESUMABLE)
    parts_dir = tmp_path / f"{cache.key_for(spec)}.parts"
    solves.fail_at = 3  # killed while solving the third chunk
    with pytest.raises(_Interrupted):
        cache.load_or_generate(spec, directory=tmp_path)
    assert sorted(p.name for p in parts_dir.iterdir()) == ["part-0.npz", "part-1.npz"]
    assert cache.load(spec, tmp_path) is None

    solves.fail_at, seen = None, []
    data = cache.load_or_generate(spec, directory=tmp_path, progress=lambda *a: seen.append(a))
    assert solves.calls[3:] == [2, 1]  # only the two missing chunks were solved again
    assert seen == [(4, 7), (6, 7), (7, 7)]  # once for the reused chunks, then per chunk
    assert all(np.array_equal(data[k], uninterrupted[k]) for k in uninterrupted)
    assert not parts_dir.exists()
    assert all(np.array_equal(cache.load(spec, tmp_path)[k], data[k]) for k in data)


@pytest.mark.parametrize("damage", ["truncated", "non-finite", "wrong dtype"])
def test_a_damaged_part_is_regenerated_with_every_part_after_it(tmp_path, uninterrupted, solves, damage):
    spec = BurgersData(**RESUMABLE)
    with pytest.raises(_Interrupted):  # a progress callback may end the generation: a Stop
        spec.generate(parts_dir=tmp_path, progress=stop_at(6))
    assert len(solves.calls) == 3 and len(list(tmp_path.glob("part-*.npz"))) == 3
    part = tmp_path / "part-1.npz"
    if damage == "truncated":
        raw = part.read_bytes()
        part.write_bytes(raw[: len(raw) // 2])
    else:
        with np.load(part) as z:
            saved = dict(z)
        if damage == "non-finite":
            saved["y"][0, 0, 3] = np.nan
        else:
            saved["x"] = saved["x"].astype(np.float64)
        np.savez(part, **saved)

    with pytest.raises(_Interrupted):  # only part 0 is reused, and part 2 goes with part 1
        spec.generate(parts_dir=tmp_path, progress=stop_at(2))
    assert [p.name for p in tmp_path.glob("part-*.npz")] == ["part-0.npz"] and len(solves.calls) == 3
    data = spec.generate(parts_dir=tmp_path)
    assert solves.calls[3:] == [2, 2, 1]
    assert all(np.array_equal(data[k], uninterrupted[k]) for k in uninterrupted)


def test_parts_another_device_solved_are_solved_again(tmp_path, uninterrupted, solves):
    """A generation resumed on another device does not mix in its chunks: they would differ in
    the last bits from this device's, and the set would match neither device's."""
    spec = BurgersData(**RESUMABLE)
    with pytest.raises(_Interrupted):
        spec.generate(parts_dir=tmp_path, progress=stop_at(4))
    part = tmp_path / "part-1.npz"
    with np.load(part) as z:
        saved = dict(z)
    assert str(saved["device"]) == describe(torch.device("cpu"))
    np.savez(part, **{**saved, "device": np.array("NVIDIA H200")})  # as if a GPU had solved chunk 1

    data = spec.generate(parts_dir=tmp_path)
    assert solves.calls == [2, 2, 2, 2, 1]  # chunk 0 reused; 1 (another device's) and after solved
    assert all(np.array_equal(data[k], uninterrupted[k]) for k in uninterrupted)


def test_a_stored_entry_names_the_device_that_solved_it(tmp_path):
    spec = BurgersData(**{**RESUMABLE, "n_samples": 2})
    cache.load_or_generate(spec, directory=tmp_path)
    meta = json.loads((tmp_path / f"{cache.key_for(spec)}.json").read_text())
    assert meta["device"] == describe(torch.device("cpu"))


def test_a_problem_generates_its_data_on_the_training_device(monkeypatch):
    """Training on a GPU, the solver batches run there, not on the CPU: the split's device is
    the one the generation gets (recorded here; ``meta`` tensors hold no data)."""
    from lab.problems import get_problem, operators

    seen, real = [], operators.load_or_generate

    def recording(spec, **kw):
        seen.append(kw["device"])
        return real(spec, **{**kw, "device": None})

    monkeypatch.setattr(operators, "load_or_generate", recording)
    problem = get_problem("darcy_operator", n_train=4, n_val=2, batch_size=2, resolution=15,
                          solve_resolution=29)
    out = problem.dataset("train", device=torch.device("meta"))
    assert seen == [torch.device("meta")] and out["x"].device.type == "meta"


def test_an_operator_task_reads_its_data_once(monkeypatch):
    """Both splits come from one load of the cached set (loading checksums every array)."""
    from lab.models import get_model_config
    from lab.problems import get_problem, operators
    from lab.training import TrainConfig
    from lab.training.tasks import task_for

    calls, real = [], operators.load_or_generate
    monkeypatch.setattr(operators, "load_or_generate", lambda spec, **kw: calls.append(spec) or real(spec, **kw))
    problem = get_problem("darcy_operator", n_train=4, n_val=2, batch_size=2, resolution=15, solve_resolution=29)
    model = get_model_config("fno", modes=3, width=4, n_layers=1, projection_channels=4).build(problem)
    task = task_for("operator")(problem, model, TrainConfig(), device=torch.device("cpu"), dtype=torch.float32,
                                generator=torch.Generator().manual_seed(0))
    assert len(calls) == 1
    assert task.train["x"].shape[0] == 4 and task.val["x"].shape[0] == 2
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        problem.dataset("test")


@pytest.mark.bad_input("validation")
def test_a_dataset_whose_solver_blows_up_is_refused_naming_what_to_change(tmp_path, monkeypatch):
    """Kuramoto-Sivashinsky on 8 points of a 22-long period is under-resolved and blows up: a
    clean refusal, not a traceback (the property suite found it)."""
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    problem = get_problem("ks_operator", resolution=8, n_train=2, n_val=1, batch_size=1)
    with pytest.raises(ValueError, match="blew up .* raise the resolution or lower the time step"):
        problem.arrays()
