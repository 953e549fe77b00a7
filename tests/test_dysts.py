"""Every continuous flow of the ``dysts`` catalogue works in the lab, or is refused saying why.

Runs when dysts is installed (the ``chaos`` extra, part of the ``test`` extra). Its right-hand
sides are written for numpy; the bridge evaluates them on torch tensors, so the checks are
against dysts itself: the same values as its numpy ``rhs`` (one state and a batch), the
Jacobian of its analytic ``jac`` where it has one, and a finite reference on a short horizon.
"""
import warnings

import numpy as np
import pytest
import torch

from lab.config import ConfigError
from lab.problems.chaos import dysts_problem

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "Numba not installed": dysts then runs plain Python
    flows = pytest.importorskip("dysts.flows")
    from dysts.base import DynSys

FLOWS = sorted(n for n, c in vars(flows).items()
               if isinstance(c, type) and issubclass(c, DynSys) and c.__module__ == flows.__name__)


def test_the_catalogue_is_walked_whole():
    assert len(FLOWS) > 100 and "Lorenz" in FLOWS and "Lorenz96" in FLOWS


@pytest.mark.parametrize("name", FLOWS)
def test_a_dysts_flow_matches_dysts_and_is_differentiable(name):
    problem = dysts_problem(name, t_end=0.1)
    flow = problem._flow
    y0 = problem.initial_state()
    y1, t = 1.01 * y0, 0.3
    field = problem.field()
    # one state and a batch (one time per state), against dysts' numpy right-hand side
    for y, got in ((y0, field(t, y0)), (y1, field(torch.tensor([0.1, t], dtype=torch.float64),
                                                     torch.stack([y0, y1]))[1])):
        want = np.asarray(flow.rhs(y.numpy().copy(), t), dtype=np.float64)
        assert np.abs(got.numpy() - want).max() <= 1e-12 * (np.abs(want).max() + 1)
    jac = torch.autograd.functional.jacobian(lambda y: field(t, y), y0)
    if flow.has_jacobian():
        want = np.asarray(flow.jac(y0.numpy().copy(), t), dtype=np.float64)
        assert np.abs(jac.numpy() - want).max() <= 1e-6 * (np.abs(want).max() + 1)
    assert torch.isfinite(jac).all()
    # float32 on the training path, and a finite reference over a short horizon
    assert field(t, y0).dtype == torch.float64 and problem.vector_field(t, y0.float()).dtype == torch.float32
    assert np.isfinite(problem._reference({"t": np.array([0.0, 0.01])})).all()


def test_a_pinn_residual_of_a_dysts_flow_has_gradients():
    """The residual runs through the bridge with autograd, as a PINN step needs."""
    from lab.autodiff import Fields
    from lab.models import get_model_config

    problem = dysts_problem("Chua", t_end=1.0)  # its right-hand side calls np.abs
    model = get_model_config("mlp", width=8, depth=1).build(problem).double()
    X = torch.linspace(0, 1, 16, dtype=torch.float64)[:, None]
    loss = problem.residual(Fields(model, X, problem.axes)).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.bad_input("dysts")
def test_a_name_that_is_no_flow_is_refused():
    with pytest.raises(ConfigError, match="'DynSys' is not a continuous flow of dysts.flows"):
        dysts_problem("DynSys")


@pytest.mark.bad_input("dysts")
def test_a_flow_whose_right_hand_side_cannot_run_on_tensors_is_refused_saying_why(monkeypatch):
    class Spectral(DynSys):  # a flow calling a numpy function the bridge has no torch form of
        def __init__(self):
            self.ic, self.params = np.ones(2), {"a": 1.0}

        @staticmethod
        def _rhs(x, y, t, a):
            return np.fft.rfft(x), a * y

    Spectral.__module__ = flows.__name__
    monkeypatch.setattr(flows, "Spectral", Spectral, raising=False)
    with pytest.raises(ConfigError, match=r"right-hand side of 'Spectral' cannot be evaluated on torch tensors "
                                          r"\(AttributeError: numpy.fft has no torch counterpart"):
        dysts_problem("Spectral")
