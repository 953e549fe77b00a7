"""Modern PINN architectures, PIG and hard constraints: shapes, gradients, exact invariants."""
import math

import pytest
import torch

from lab.autodiff import Fields
from lab.models import get_model_config
from lab.models.pig import GaussianField, memory_estimate_gb
from lab.problems import get_problem
from lab.problems.base import Problem
from lab.models.hard import HardConstraint


class PeriodicPair(Problem):
    """Two outputs, periodic in x on [0, 2π): enough structure to exercise every model."""
    key = "test_periodic_pair"
    axes = ("x", "t")
    outputs = ("u", "v")
    periodic = ("x",)

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}


class Plate(Problem):
    """Steady 2D box with non-zero Dirichlet data g = x² + y on [-1, 2] × [0, 1]."""
    key = "test_plate"
    kind = "2d"
    axes = ("x", "y")

    def bounds(self):
        return {"x": (-1.0, 2.0), "y": (0.0, 1.0)}

    def boundary_value(self, X):
        return (X[:, :1] ** 2 + X[:, 1:2])


SMALL = {
    "fourier_mlp": dict(width=16, depth=2, fourier_features=8),
    "modified_mlp": dict(width=16, depth=2, fourier_features=8),
    "pirate": dict(width=16, blocks=2, fourier_features=8),
    "pig": dict(n_gaussians=40, chunk_size=16),
    "pig_full": dict(n_gaussians=40, chunk_size=16, full_covariance=True),
    "pig_topk": dict(n_gaussians=40, chunk_size=16, top_k=6),
    "pig_channel": dict(n_gaussians=10, chunk_size=16, per_channel=True, scale_param="linear"),
}


def build(name, problem, dtype=torch.float64, **kw):
    torch.manual_seed(0)
    kind = name.split("_")[0] if name.startswith("pig") else name
    return get_model_config(kind, **{**SMALL[name], **kw}).build(problem).to(dtype)


def points(problem, n=50, seed=1, dtype=torch.float64):
    return problem.sample(n, 0, 0, torch.Generator().manual_seed(seed), dtype=dtype)["pde"]


@pytest.mark.parametrize("name", list(SMALL))
def test_shape_and_every_parameter_gets_a_gradient(name):
    problem = PeriodicPair()
    model = build(name, problem)
    for m in model.modules():  # PirateNet starts at alpha = 0, which zeroes its blocks' gradients
        if hasattr(m, "alpha"):
            m.alpha.data.fill_(0.5)
    X = points(problem)
    f = Fields(model, X, problem.axes)
    assert f.u.shape == (50, 2)
    loss = (f.d("x", "x") + f.d("t") + f(1)).pow(2).mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().max() > 0, f"{pname} receives no gradient"


def test_pirate_starts_as_linear_model_of_embedding():
    """alpha = 0: blocks are identities, so the output is the last layer on the embedding."""
    problem = PeriodicPair()
    model = build("pirate", problem)
    emb, net = model[0], model[1]
    X = points(problem)
    expected = net.out(emb(X))
    assert torch.allclose(model(X), expected, rtol=0, atol=1e-14)
    model(X).sum().backward()
    assert all(b.alpha.grad.abs() > 0 for b in net.blocks)
    assert all(p.grad.abs().max() == 0 for b in net.blocks for p in b.l1.parameters())


@pytest.mark.parametrize("name", list(SMALL))
def test_periodic_embedding_is_exactly_periodic(name):
    problem = PeriodicPair()
    model = build(name, problem, harmonics=2) if not name.startswith("pig") else build(name, problem)
    X = points(problem)
    for shift in (2 * math.pi, -4 * math.pi):
        Y = X.clone()
        Y[:, 0] += shift
        assert (model(X) - model(Y)).abs().max() < 1e-12
    # and the time axis is not periodic: the embedding did not wrap everything
    Y = X.clone()
    Y[:, 1] += 1.0
    assert (model(X) - model(Y)).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["modified_mlp", "pig"])
def test_hard_ic_and_bc_hold_to_round_off(name):
    burgers = get_problem("burgers")
    model = build(name, burgers, hard="ic+bc")
    assert isinstance(model, HardConstraint) and model.enforced == ("ic", "bc")
    g = torch.Generator().manual_seed(3)
    pts = burgers.sample(1, 200, 200, g, dtype=torch.float64)
    ic = (model(pts["ic"]) - burgers.initial_condition(pts["ic"])).abs().max()
    bc = (model(pts["bc"]) - burgers.boundary_value(pts["bc"])).abs().max()
    assert ic < 1e-14 and bc < 1e-14
    assert model(points(burgers)).abs().max() > 1e-3  # the interior is free


def test_hard_dirichlet_with_nonzero_data():
    plate = Plate()
    model = build("modified_mlp", plate, hard="bc")
    Xb = plate.sample_boundary(300, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (model(Xb) - plate.boundary_value(Xb)).abs().max() < 1e-14


def test_hard_constraint_refusals_name_the_setting():
    with pytest.raises(ValueError, match="hard='ic\\+bc'"):
        build("modified_mlp", _Mismatch(), hard="ic+bc")
    with pytest.raises(ValueError, match="hard='ic'"):
        build("modified_mlp", Plate(), hard="ic")
    with pytest.raises(ValueError, match="non-periodic"):
        build("modified_mlp", PeriodicPair(), hard="bc")


class _Mismatch(Problem):
    key = "test_mismatch"
    axes = ("x", "t")

    def bounds(self):
        return {"x": (0.0, 1.0), "t": (0.0, 1.0)}

    def initial_condition(self, X):
        return torch.ones_like(X[:, :1])  # but the boundary data is 0


@pytest.mark.parametrize("name", ["pig", "pig_full"])
def test_pig_chunked_equals_unchunked_with_derivatives(name):
    problem = PeriodicPair()
    X = points(problem, n=101)
    outs = []
    for chunk in (7, 1000):
        model = build(name, problem, chunk_size=chunk, init_scale=0.3)
        f = Fields(model, X, problem.axes)
        outs.append(torch.stack([f(), f.d("x"), f.d("x", "t"), f.d("t", "t")]))
    assert (outs[0] - outs[1]).abs().max() < 1e-12


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pig_on_a_periodic_problem_is_captured_as_a_cuda_graph():
    """The wrapped offsets index the periodic axes with a device tensor: a Python list would
    be copied from the host on every call, which a CUDA graph cannot capture."""
    problem = PeriodicPair()
    model = build("pig_topk", problem, dtype=torch.float32).cuda()
    X = points(problem, dtype=torch.float32).cuda()
    expected = model(X)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = model(X)
    graph.replay()
    assert torch.equal(out, expected)


def test_pig_full_covariance_reduces_to_diagonal_at_zero_offdiagonal():
    problem = PeriodicPair()
    diag, full = build("pig", problem), build("pig_full", problem)
    full.load_state_dict({**diag.state_dict(), "offdiag": torch.zeros(40, 2, 2, dtype=torch.float64)})
    X = points(problem)
    assert (diag(X) - full(X)).abs().max() < 1e-13


def test_pig_per_channel_equals_shared_gaussians_with_one_hot_features():
    """The authors' construction (every channel its own Gaussians, a scalar weight each, σ
    trained directly) is the shared one with k·N Gaussians whose features are weight × one-hot
    channel and whose log-scales are log σ: same values and input derivatives."""
    problem = PeriodicPair()
    chan = build("pig", problem, n_gaussians=10, n_features=3, per_channel=True, scale_param="linear",
                 init_scale=0.3, feature_std=0.01)
    assert chan.means.shape == (30, 2) and chan.features.shape == (30, 1) and chan.log_scales is None
    assert 0.002 < float(chan.features.detach().std()) < 0.05
    with torch.no_grad():  # distinct widths per Gaussian and axis
        chan.scales.mul_(torch.exp(0.3 * torch.randn_like(chan.scales)))
    shared = build("pig", problem, n_gaussians=30, n_features=3, init_scale=0.3)
    onehot = torch.eye(3, dtype=torch.float64).repeat_interleave(10, 0)
    shared.load_state_dict({**{k: v for k, v in chan.state_dict().items() if k not in ("scales", "features")},
                            "log_scales": chan.scales.detach().log(), "features": chan.features.detach() * onehot})
    X = points(problem, n=101)
    fc, fs = Fields(chan, X, problem.axes), Fields(shared, X, problem.axes)
    for d in ((), ("x",), ("t",), ("x", "x"), ("x", "t")):
        assert (fc.d(*d) if d else fc()).sub(fs.d(*d) if d else fs()).abs().max() < 1e-12, d
    g = chan.gaussians()
    assert g["means"].shape == (30, 2) and abs(g["scales"] - shared.gaussians()["scales"]).max() < 1e-12
    # the memory guard counts every channel's Gaussians
    with pytest.raises(ValueError, match="per channel"):
        get_model_config("pig", n_gaussians=60_000, n_features=4, per_channel=True,
                         chunk_size=4096).build(problem)


def test_pig_gaussians_in_problem_coordinates():
    problem = Plate()
    model = build("pig", problem, init_scale=0.2)
    g = model.gaussians()
    assert g["means"].shape == (40, 2) and g["covariance"].shape == (40, 2, 2)
    assert (g["means"][:, 0] >= -1).all() and (g["means"][:, 0] <= 2).all()
    # [-1, 2] has half-width 1.5, [0, 1] 0.5: σ = 0.2 in the unit box scales accordingly
    # (to float32 round-off: parameters are initialised in the default dtype)
    assert abs(g["scales"][:, 0] - 0.3).max() < 1e-6 and abs(g["scales"][:, 1] - 0.1).max() < 1e-6
    assert abs(g["covariance"][:, 0, 1]).max() == 0


def test_pig_memory_budget_refusal_names_the_parameters():
    problem = get_problem("burgers")
    with pytest.raises(ValueError, match=r"N gaussians = 200000 .*needs about .* GB for Chunk size = 4096 .*"
                                         r"above Memory budget \(GB\) = 4\. Lower Chunk size"):
        get_model_config("pig", n_gaussians=200_000, chunk_size=4096).build(problem)
    # top_k bounds the training graph; the neighbour search alone must still fit
    assert memory_estimate_gb(4096, 200_000, 2, top_k=16) < memory_estimate_gb(4096, 200_000, 2)
    model = get_model_config("pig", n_gaussians=5000, chunk_size=512, top_k=16).build(problem)
    assert isinstance(model, GaussianField)


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="Embedding must be one of"):
        get_model_config("modified_mlp", embedding="wavelet")
    with pytest.raises(ValueError, match="unknown setting"):
        get_model_config("pirate", depth=3)


def test_trainable_time_period_embeds_t_as_cos_sin_and_is_trained():
    """``time_omega > 0``: t enters as cos/sin(ω (t − t0)) with ω a parameter (jaxpi's time
    period), so the network is periodic in t with period 2π/ω; 0 keeps t raw."""
    import math
    from lab import get_problem
    from lab.models import get_model_config
    p = get_problem("convection", beta=30.0)
    torch.manual_seed(0)
    m = get_model_config("modified_mlp", width=16, depth=2, embedding="none", time_omega=4.0).build(p).double()
    omega = dict(m.named_parameters())["0.time_omega"]
    assert omega.requires_grad and float(omega) == 4.0
    X = torch.tensor([[0.3, 0.1], [1.2, 0.7]], dtype=torch.float64)
    shifted = X + torch.tensor([0.0, 2 * math.pi / 4.0], dtype=torch.float64)
    assert torch.allclose(m(X), m(shifted), atol=1e-12)
    m(X).sum().backward()
    assert omega.grad is not None and omega.grad.abs() > 0
    plain = get_model_config("modified_mlp", width=16, depth=2, embedding="none").build(p)
    assert not any("time_omega" in n for n, _ in plain.named_parameters())
