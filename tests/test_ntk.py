"""Empirical NTK: closed-form kernels (a linear model, the infinite-width ReLU layer), symmetry and
positive semi-definiteness on a real PINN, and the memory guard."""
import math

import numpy as np
import pytest
import torch

from lab.autodiff import Fields
from lab.diagnostics.ntk import empirical_ntk, jacobian


def test_a_linear_model_has_the_kernel_of_its_features_in_every_block():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1).double()
    X = torch.rand(7, 2, dtype=torch.float64)

    def residuals():  # u at the points and the residual r = u_t (a constant b for u = a x + b t + c)
        return {"ic": model(X)[:, 0], "pde": Fields(model, X, ("x", "t")).d("t")}

    ntk = empirical_ntk(residuals, model)
    x, t = X[:, 0].numpy(), X[:, 1].numpy()
    np.testing.assert_allclose(ntk.block("ic"), np.outer(x, x) + np.outer(t, t) + 1, rtol=1e-13)
    np.testing.assert_allclose(ntk.block("pde"), np.ones((7, 7)), rtol=1e-13)
    np.testing.assert_allclose(ntk.block("ic", "pde"), np.repeat(t[:, None], 7, axis=1), rtol=1e-13)
    assert ntk.trace_ratios()["pde"] == 1.0


class _WideReLU(torch.nn.Module):
    """f(x) = a · relu(W x) / sqrt(m) in the NTK parameterisation, W and a standard normal."""

    def __init__(self, d, m, generator):
        super().__init__()
        self.W = torch.nn.Parameter(torch.randn(m, d, generator=generator, dtype=torch.float64))
        self.a = torch.nn.Parameter(torch.randn(m, generator=generator, dtype=torch.float64))

    def forward(self, x):
        return torch.relu(x @ self.W.T) @ self.a / math.sqrt(len(self.a))


def _relu_ntk(x, y):
    """The infinite-width limit (Jacot et al. 2018) from the arc-cosine kernels of Cho & Saul (2009)."""
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    theta = math.acos(np.clip(x @ y / (nx * ny), -1, 1))
    k1 = nx * ny * (math.sin(theta) + (math.pi - theta) * math.cos(theta)) / (2 * math.pi)
    k0 = (math.pi - theta) / (2 * math.pi)
    return k1 + (x @ y) * k0


def test_a_wide_relu_layer_approaches_its_infinite_width_kernel():
    gen = torch.Generator().manual_seed(1)
    model = _WideReLU(2, 200_000, gen)
    X = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-0.5, 0.5], [0.2, -1.0]], dtype=torch.float64)
    ntk = empirical_ntk(lambda: {"u": model(X)}, model, max_bytes=2**32)
    exact = np.array([[_relu_ntk(a, b) for b in X.numpy()] for a in X.numpy()])
    # Monte Carlo over 2e5 neurons: about 1/sqrt(m) ~ 0.2 % relative; 2 % leaves room for all entries
    np.testing.assert_allclose(ntk.K, exact, rtol=0.02, atol=0.02 * np.abs(exact).max())


def test_the_kernel_of_a_pinn_is_symmetric_and_positive_semidefinite():
    from lab.models import get_model_config
    from lab.problems import get_problem

    problem = get_problem("burgers")
    model = get_model_config("mlp", width=16, depth=2).build(problem).double()
    batch = problem.sample(40, 10, 10, torch.Generator().manual_seed(0), dtype=torch.float64)
    ntk = empirical_ntk(lambda: problem.point_residuals(model, batch, "autograd"), model)
    assert ntk.terms == ("pde", "ic", "bc") and ntk.sizes == (40, 10, 10)
    np.testing.assert_allclose(ntk.K, ntk.K.T, rtol=0, atol=1e-12 * np.abs(ntk.K).max())
    raw = np.linalg.eigvalsh(ntk.K)
    assert raw.min() > -1e-10 * raw.max()
    assert np.all(np.diff(ntk.eigenvalues("pde")) <= 0)  # largest first
    np.testing.assert_allclose(sum(ntk.traces()[t] * n for t, n in zip(ntk.terms, ntk.sizes)),
                               np.trace(ntk.K), rtol=1e-12)


def test_the_batched_jacobian_equals_torch_func_jacrev():
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()
    X = torch.rand(11, 3, dtype=torch.float64)
    J = jacobian(model(X)[:, 0], list(model.parameters()), batch=4)
    params = dict(model.named_parameters())
    jr = torch.func.jacrev(lambda p: torch.func.functional_call(model, p, (X,))[:, 0])(params)
    ref = torch.cat([jr[k].reshape(11, -1) for k in params], dim=1)
    torch.testing.assert_close(J, ref, rtol=1e-13, atol=1e-13)


@pytest.mark.bad_input("ntk")
def test_an_ntk_that_would_not_fit_memory_is_refused_before_it_is_built():
    model = torch.nn.Linear(2, 1)
    X = torch.rand(100, 2)
    with pytest.raises(ValueError, match="fewer NTK points per term or a smaller model"):
        empirical_ntk(lambda: {"u": model(X)[:, 0]}, model, max_bytes=1000)


@pytest.mark.bad_input("ntk")
def test_an_ntk_of_an_empty_term_is_refused():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="at least one point"):
        empirical_ntk(lambda: {"u": model(torch.rand(0, 2))[:, 0]}, model)
