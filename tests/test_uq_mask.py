"""Uncertainty on an operator over a family of domains: trained and scored on each sample's
domain only (the problem's output mask), its maps blank off it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lab import get_problem
from lab.uq.methods import run_uq

SMALL = dict(n_train=6, n_val=2, batch_size=2, resolution=17, mesh_layers=8)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


@pytest.mark.parametrize("method", ["ensemble", "dropout", "laplace"])
def test_values_off_the_mask_change_nothing_and_the_maps_are_blank_there(method, monkeypatch):
    p = get_problem("plate_hole_operator", **SMALL)
    kw = dict(members=2, steps=3, width=8, modes=4, samples=4, seed=0, dtype=torch.float64)
    clean = run_uq(p, method, **kw)
    real = p.datasets

    def corrupted(*args, **kwargs):  # the targets off each domain replaced by noise
        out = real(*args, **kwargs)
        for split in out.values():
            mask = p.output_mask(split["x"])
            split["y"] = split["y"] * mask + 100 * torch.randn_like(split["y"]) * (1 - mask)
        return out
    monkeypatch.setattr(p, "datasets", corrupted)
    noisy = run_uq(p, method, **kw)
    off = np.isnan(clean.reference)
    assert 0.02 < off.mean() < 0.5  # the holes and nothing else
    for a in (clean.mean, clean.std, noisy.mean, noisy.std, noisy.reference):
        assert np.array_equal(np.isnan(a), off)
    np.testing.assert_allclose(noisy.mean[~off], clean.mean[~off], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(noisy.std[~off], clean.std[~off], rtol=1e-9, atol=1e-12)
    assert noisy.calibration.row() == pytest.approx(clean.calibration.row())
