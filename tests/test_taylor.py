"""Taylor-mode derivatives (``lab.autodiff.TaylorFields``) against the autograd engine, float64.

The two engines compute the same partials by different routes (forward jets through the MLP
vs nested reverse passes), so agreement to round-off — values, derivatives up to fourth
order, parameter gradients and Hessian-vector products of a loss built from them, and a
Trainer run — checks both. Tolerance 1e-10 (measured ~1e-15 relative).
"""
import pytest
import torch

from lab.autodiff import Fields, TaylorFields, residual_requests
from lab.models import get_model_config
from lab.problems import get_problem
from lab.problems.base import Problem
from lab.problems.burgers import Burgers
from lab.training import Step, TrainConfig, Trainer

TOL = 1e-10
DERIVS = [("x",), ("t",), ("x", "x"), ("x", "t"), ("t", "x"), ("t", "t"), ("x", "x", "x"),
          ("x", "x", "x", "x"), ("x", "x", "t", "t")]


def burgers_model(activation, width=16, depth=3, seed=0):
    torch.manual_seed(seed)
    problem = get_problem("burgers")
    model = get_model_config("mlp", width=width, depth=depth, activation=activation).build(problem).double()
    for p in model.parameters():  # non-zero biases, so no term of the jet is trivially zero
        torch.nn.init.normal_(p, std=0.7)
    X = problem.sample(40, 0, 0, torch.Generator().manual_seed(1), dtype=torch.float64)["pde"]
    return problem, model, X


def close(a, b):
    scale = 1 + float(b.detach().abs().max())
    return float((a - b).detach().abs().max()) <= TOL * scale


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_jets_equal_autograd_up_to_fourth_order(activation):
    problem, model, X = burgers_model(activation)
    ref = Fields(model, X, problem.axes)
    jet = TaylorFields(model, X, problem.axes, set(DERIVS))
    assert close(jet(), ref())
    assert torch.equal(jet.coord("t"), X[:, 1])
    for d in DERIVS:
        assert close(jet.d(*d), ref.d(*d)), d
        assert float(ref.d(*d).detach().abs().max()) > 1e-3, d  # the comparison is not between zeros


def test_two_outputs_and_three_axes():
    torch.manual_seed(3)
    problem = get_problem("gray_scott2d")
    model = get_model_config("mlp", width=12, depth=2).build(problem).double()
    X = problem.sample(30, 0, 0, torch.Generator().manual_seed(2), dtype=torch.float64)["pde"]
    needed = {("x", "y"), ("y", "y"), ("t",), ("x", "x", "y")}
    ref, jet = Fields(model, X, problem.axes), TaylorFields(model, X, problem.axes, needed)
    for out in (0, 1):
        assert close(jet(out), ref(out))
        for d in needed:
            assert close(jet.d(*d, out=out), ref.d(*d, out=out)), (d, out)


class BurgersXT(Burgers):
    """Burgers plus a mixed-partial term, so the loss exercises u_xt as well."""

    def residual(self, f):
        return super().residual(f) + 0.3 * f.d("x", "t")


def loss_of(model, X, engine):
    problem = BurgersXT()
    f = Fields.for_problem(problem, model, X, engine)
    assert isinstance(f, TaylorFields) == (engine != "autograd")
    return problem.residual(f).pow(2).mean()


def loss_grads_hvps(model, loss_for) -> dict[str, tuple[torch.Tensor, ...]]:
    """Per engine (autograd, taylor): the loss ``loss_for(engine)``, its parameter gradients
    and a Hessian-vector product with one random direction, flattened into one tuple."""
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]
    out = {}
    for engine in ("autograd", "taylor"):
        loss = loss_for(engine)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        hvp = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), params)
        out[engine] = (loss, *grads, *hvp)
    return out


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_parameter_gradients_and_hessian_vector_products_equal_autograd(activation):
    _, model, X = burgers_model(activation)
    out = loss_grads_hvps(model, lambda engine: loss_of(model, X, engine))
    for a, b in zip(out["taylor"], out["autograd"], strict=True):
        assert close(a, b)


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_gradcheck_of_a_taylor_loss_in_the_parameters(activation):
    _, model, X = burgers_model(activation, width=5, depth=2)
    X = X[:6]
    names = [n for n, _ in model.named_parameters()]

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, X):
            return loss_of(self.model, X, "taylor")

    def loss(*values):  # the loss as a function of the parameter tensors
        return torch.func.functional_call(Loss(), dict(zip(["model." + n for n in names], values)), (X,))

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("kind,params", [("mlp", dict(width=8, depth=2)), ("pig", dict(n_gaussians=30, top_k=8))])
def test_trainer_losses_equal_the_autograd_engine_for_five_steps(tmp_path, kind, params):
    runs = {}
    for engine in ("autograd", "taylor"):
        seen = []
        cfg = TrainConfig(steps=5, n_pde=64, n_ic=16, n_bc=16, log_every=1, snapshot_every=5,
                          checkpoint_every=5, lr=1e-2, dtype="float64", device="cpu", derivatives=engine)
        result = Trainer(get_problem("burgers"), get_model_config(kind, **params), cfg,
                         runs_dir=tmp_path / engine,
                         sinks=[lambda e: seen.append(e) if isinstance(e, Step) else None]).run()
        assert result.status == "completed"
        runs[engine] = [e.losses for e in seen]
    assert len(runs["taylor"]) == 5
    for a, b in zip(runs["taylor"], runs["autograd"]):
        assert a.keys() == b.keys() == {"pde", "ic", "bc"}
        assert all(abs(a[k] - b[k]) <= TOL * (1 + abs(b[k])) for k in a), (a, b)


def test_requests_are_recorded_from_the_residual():
    problem, model, X = burgers_model("tanh")
    rec = residual_requests(problem, model, X)
    assert rec.keys == {(), ("t",), ("x",), ("x", "x")} and not rec.uses_X
    assert residual_requests(get_problem("kdv"), model, X).keys >= {(), ("t",), ("x",), ("x", "x", "x")}
    darcy = get_problem("darcy2d")  # reads f.X for its coefficient: X stays differentiable
    m = get_model_config("mlp", width=8, depth=2).build(darcy).double()
    Xd = darcy.sample(8, 0, 0, torch.Generator().manual_seed(0), dtype=torch.float64)["pde"]
    assert residual_requests(darcy, m, Xd).uses_X
    assert Fields.for_problem(darcy, m, Xd, "taylor").X.requires_grad


def test_engine_choice():
    problem, model, X = burgers_model("tanh")
    assert type(Fields.for_problem(problem, model, X)) is Fields  # CPU: autograd (measured faster)
    assert isinstance(Fields.for_problem(problem, model, X, "taylor"), TaylorFields)
    assert isinstance(Fields.for_problem(problem, get_model_config("pig", n_gaussians=10).build(problem).double(),
                                         X, "taylor"), TaylorFields)
    for kind, params in [("modified_mlp", dict(width=8, depth=2)),
                         ("pig", dict(n_gaussians=10, activation="gelu")),
                         ("mlp", dict(width=8, depth=2, activation="gelu"))]:
        other = get_model_config(kind, **params).build(problem).double()
        assert type(Fields.for_problem(problem, other, X)) is Fields
        with pytest.raises(ValueError, match="plain MLP"):
            Fields.for_problem(problem, other, X, "taylor")
    with pytest.raises(ValueError, match="engine must be one of"):
        Fields.for_problem(problem, model, X, "forward")
    with pytest.raises(KeyError, match="not among the partials"):
        TaylorFields(model, X, problem.axes, {("x",)}).d("t")


def _aot_eager(monkeypatch):
    """The compiled engine traced by ``torch.compile`` (whole graph, forward and backward) but
    run by AOTAutograd's eager backend: the same graphs without a C++/Triton build on CPU CI."""
    from lab import autodiff

    for name, forward in [("_compiled_jet_forward", autodiff._jet_forward),
                          ("_compiled_encoded_jet_forward", autodiff._encoded_jet_forward)]:
        monkeypatch.setattr(autodiff, name,
                            lambda forward=forward: torch.compile(forward, fullgraph=True, backend="aot_eager"))


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_compiled_jet_traces_whole_and_equals_autograd(activation, monkeypatch):
    _aot_eager(monkeypatch)
    _, model, X = burgers_model(activation)
    params = list(model.parameters())
    out = {}
    for engine in ("autograd", "compiled"):
        loss = loss_of(model, X, engine)
        out[engine] = (loss, torch.autograd.grad(loss, params))
    assert close(out["compiled"][0], out["autograd"][0])
    for a, b in zip(out["compiled"][1], out["autograd"][1]):
        assert close(a, b)
    jet = TaylorFields(model, X, ("x", "t"), set(DERIVS), compiled=True)  # fourth order too
    ref = Fields(model, X, ("x", "t"))
    for d in DERIVS:
        assert close(jet.d(*d), ref.d(*d)), d


class Periodic3(Problem):
    """Three axes of unit-size scale, ``x`` periodic: PIG's wrapped offsets in every partial."""
    key = "test_periodic3"
    axes = ("x", "y", "t")
    periodic = ("x",)

    def bounds(self):
        return {"x": (0.0, 2.0), "y": (-1.0, 0.5), "t": (0.0, 1.0)}

    def residual(self, f):
        return f.d("t") - f.d("x", "x") - f.d("y", "y") + f() * f.d("x", "y")


PIG_DERIVS = [("x",), ("y",), ("t",), ("x", "x"), ("x", "y"), ("y", "t"), ("t", "t"), ("x", "x", "y"),
              ("x", "y", "y", "t")]
PIG = {"diagonal": {}, "full": dict(full_covariance=True), "top_k": dict(top_k=6, chunk_size=7),
       "full_top_k": dict(full_covariance=True, top_k=6, chunk_size=7),
       # the authors' construction: per-channel Gaussians, σ trained directly
       "per_channel": dict(per_channel=True, n_features=3, scale_param="linear"),
       "per_channel_top_k": dict(per_channel=True, n_features=3, scale_param="linear", top_k=6, chunk_size=7)}


def pig_model(kw):
    torch.manual_seed(0)
    problem = Periodic3()
    model = get_model_config("pig", n_gaussians=40, init_scale=0.5, **kw).build(problem).double()
    if model.offdiag is not None:  # tilted covariances, so the mixed partials are not trivially zero
        torch.nn.init.normal_(model.offdiag, std=0.3)
    X = problem.sample(23, 0, 0, torch.Generator().manual_seed(1), dtype=torch.float64)["pde"]
    return problem, model, X


@pytest.mark.parametrize("kw", PIG.values(), ids=list(PIG))
def test_pig_jets_equal_autograd_up_to_fourth_order(kw):
    """PIG's closed-form Gaussian jet (:meth:`GaussianField.encoding_jet`) fed to the head's jet."""
    problem, model, X = pig_model(kw)
    ref = Fields(model, X, problem.axes)
    jet = TaylorFields(model, X, problem.axes, set(PIG_DERIVS))
    assert close(jet(), ref())
    for d in PIG_DERIVS:
        assert close(jet.d(*d), ref.d(*d)), d
        assert float(ref.d(*d).detach().abs().max()) > 1e-3, d


@pytest.mark.parametrize("kw", [PIG["top_k"], PIG["full_top_k"], PIG["per_channel"]],
                         ids=["top_k", "full_top_k", "per_channel"])
def test_pig_parameter_gradients_and_hessian_vector_products_equal_autograd(kw):
    problem, model, X = pig_model(kw)
    out = loss_grads_hvps(
        model, lambda engine: problem.residual(Fields.for_problem(problem, model, X, engine)).pow(2).mean())
    for a, b in zip(out["taylor"], out["autograd"], strict=True):
        assert close(a, b)


def test_compiled_pig_jet_traces_whole_and_equals_autograd(monkeypatch):
    _aot_eager(monkeypatch)
    problem, model, X = pig_model(PIG["full_top_k"])
    params = list(model.parameters())
    out = {}
    for engine in ("autograd", "compiled"):
        loss = problem.residual(Fields.for_problem(problem, model, X, engine)).pow(2).mean()
        out[engine] = (loss, *torch.autograd.grad(loss, params))
    for a, b in zip(out["compiled"], out["autograd"]):
        assert close(a, b)


def test_compiled_jet_past_the_recompile_limit_falls_back_to_the_eager_jet(monkeypatch):
    """An app session visits many problems, each a new static graph: past torch.compile's
    limit, training goes on with the eager jet (a warning, the same values) rather than failing."""
    from lab import autodiff

    def exhausted(*args):
        raise torch._dynamo.exc.FailOnRecompileLimitHit("recompile_limit reached")

    monkeypatch.setattr(autodiff, "_compiled_jet_forward", lambda: exhausted)
    _, model, X = burgers_model("tanh")
    with pytest.warns(UserWarning, match="runs eagerly"):
        jet = TaylorFields(model, X, ("x", "t"), set(DERIVS), compiled=True)
    ref = Fields(model, X, ("x", "t"))
    for d in DERIVS:
        assert close(jet.d(*d), ref.d(*d)), d


def test_compiled_engine_choice():
    problem, model, X = burgers_model("tanh")
    with pytest.raises(ValueError, match="plain MLP"):
        Fields.for_problem(problem, get_model_config("modified_mlp", width=8, depth=2).build(problem).double(),
                           X, "compiled")
    darcy = get_problem("darcy2d")  # reads f.X: a compiled jet could not be differentiated twice
    m = get_model_config("mlp", width=8, depth=2).build(darcy).double()
    Xd = darcy.sample(8, 0, 0, torch.Generator().manual_seed(0), dtype=torch.float64)["pde"]
    with pytest.raises(ValueError, match="reads f.X"):
        Fields.for_problem(darcy, m, Xd, "compiled")
    with pytest.raises(ValueError, match="Derivatives must be one of"):
        TrainConfig(derivatives="forward")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind,params", [("mlp", dict(width=64, depth=3)), ("pig", dict(n_gaussians=500, top_k=16))])
def test_compiled_jet_on_cuda_equals_autograd_in_float32(kind, params):
    """Inductor's fused kernels round differently from eager ones: float32 tolerance 1e-5
    relative for the loss and 1e-4 for the parameter gradients (max norm)."""
    torch.manual_seed(0)
    problem = BurgersXT()
    model = get_model_config(kind, **params).build(problem).cuda()
    X = problem.sample(2048, 0, 0, torch.Generator().manual_seed(1), device="cuda")["pde"]
    params = list(model.parameters())
    out = {}
    for engine in ("autograd", "compiled"):
        f = Fields.for_problem(problem, model, X, engine)
        loss = problem.residual(f).pow(2).mean()
        out[engine] = (loss, torch.autograd.grad(loss, params))
    (la, ga), (lc, gc) = out["autograd"], out["compiled"]
    assert float((lc - la).abs()) <= 1e-5 * float(la.abs())
    for a, c in zip(ga, gc, strict=True):
        assert float((c - a).abs().max()) <= 1e-4 * float(a.abs().max())
    assert isinstance(Fields.for_problem(problem, model, X), TaylorFields)  # "auto" on CUDA
