"""Hessian spectra against the exact Hessian of a small float64 network."""
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from lab.diagnostics.hessian import (HessianOperator, hutchinson_trace, rademacher,
                                     spectral_density, top_eigenvalues)

F64 = torch.float64


@pytest.fixture(scope="module")
def problem():
    """A 2-6-6-1 tanh net (67 parameters), MSE loss on 40 points; exact H by autograd."""
    torch.manual_seed(0)  # nn.Linear's init uses the global generator; the values are irrelevant
    net = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(40, 2, generator=g, dtype=F64)
    y = torch.sin(X[:, :1]) * X[:, 1:]

    def loss_fn(model):
        return (model(X) - y).square().mean()

    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def flat_loss(t):
        parts, o = {}, 0
        for name, s in zip(names, shapes):
            parts[name] = t[o:o + s.numel()].reshape(s)
            o += s.numel()
        return (functional_call(net, parts, (X,)) - y).square().mean()

    H = torch.autograd.functional.hessian(flat_loss, theta)
    return net, loss_fn, H


def test_hvp_matches_exact_hessian(problem):
    net, loss_fn, H = problem
    op = HessianOperator(net, loss_fn)
    v = torch.randn(op.n, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert op.n == 67 and torch.allclose(op(v), H @ v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("which", ["LA", "LM"])
def test_top_eigenvalues_to_1e6(problem, which):
    net, loss_fn, H = problem
    exact = torch.linalg.eigvalsh(H)
    key = exact.abs() if which == "LM" else exact
    want = exact[torch.argsort(key, descending=True)[:5]]
    values, vectors = top_eigenvalues(HessianOperator(net, loss_fn), 5,
                                      torch.Generator().manual_seed(3), which=which)
    assert torch.allclose(values, want, rtol=1e-6, atol=0)
    # Ritz vectors are eigenvectors: ||H y - theta y|| small relative to the top eigenvalue
    resid = (vectors @ H - values[:, None] * vectors).norm(dim=1)
    assert (resid < 1e-6 * exact.abs().max()).all()


def test_hutchinson_trace_within_statistical_tolerance(problem):
    net, loss_fn, H = problem
    S = 400
    est, stderr = hutchinson_trace(HessianOperator(net, loss_fn), S, torch.Generator().manual_seed(4))
    # Rademacher variance per sample: 2 (||H||_F^2 - sum_i H_ii^2)
    sigma = math.sqrt(2 * (H.square().sum() - H.diagonal().square().sum()).item() / S)
    assert abs(est - H.trace().item()) < 4 * sigma
    assert stderr == pytest.approx(sigma, rel=0.25)  # the reported error bar is honest


def test_slq_density_quadrature_is_exact_per_probe_and_unbiased(problem):
    net, loss_fn, H = problem
    n = H.shape[0]
    density = spectral_density(HessianOperator(net, loss_fn), 30, 12, torch.Generator().manual_seed(5))
    assert density.nodes.shape == (30, 12)
    assert torch.allclose(density.weights.sum(1), torch.ones(30, dtype=F64), atol=1e-12)
    # Gauss quadrature with m = 12 nodes integrates t^p exactly for p <= 23: v^T H^p v
    V = rademacher((30, n), torch.Generator().manual_seed(5)) / math.sqrt(n)
    for p in (1, 2, 3, 5):
        quad = (density.weights * density.nodes ** p).sum(1)
        exact = ((V @ torch.linalg.matrix_power(H, p)) * V).sum(1)
        assert torch.allclose(quad, exact, rtol=1e-8, atol=1e-12 * exact.abs().max())
    # first moment is Hutchinson's trace / n: unbiased, within 4 standard errors
    sigma = math.sqrt(2 * (H.square().sum() - H.diagonal().square().sum()).item() / 30) / n
    assert abs(density.moment(1).item() - H.trace().item() / n) < 4 * sigma
    # smoothed density integrates to 1
    lam = torch.linalg.eigvalsh(H)
    sig = 0.01 * (lam.max() - lam.min()).item()
    t = torch.linspace(lam.min().item() - 10 * sig, lam.max().item() + 10 * sig, 20001, dtype=F64)
    assert torch.trapezoid(density.on_grid(t, sig), t).item() == pytest.approx(1.0, abs=1e-6)


def test_full_lanczos_recovers_the_whole_spectrum(problem):
    net, loss_fn, H = problem
    values, _ = top_eigenvalues(HessianOperator(net, loss_fn), 67, torch.Generator().manual_seed(6))
    assert torch.allclose(values.flip(0), torch.linalg.eigvalsh(H), rtol=1e-6, atol=1e-9)


def test_errors():
    net = nn.Linear(2, 1).double()
    op = HessianOperator(net, lambda m: m(torch.ones(1, 2, dtype=F64)).square().sum())
    with pytest.raises(ValueError, match="k must be"):
        top_eigenvalues(op, 0, torch.Generator())
    with pytest.raises(ValueError, match="which"):
        top_eigenvalues(op, 1, torch.Generator(), which="SA")
    with pytest.raises(ValueError, match="v must have shape"):
        op(torch.zeros(5, dtype=F64))
