"""CUDA-graph Adam steps: which runs may be captured, and that capture changes no number.

CPU CI checks the fallback rules, that the step the graph captures (``CapturedAdam._body``)
computes exactly the eager loop's losses through the one shared loss function (for the
operator task, with each mini-batch drawn ahead of its step; with causal weighting and loss
balancing), that those methods read nothing back from the device inside a step, and that
non-finite losses are recorded with their step. The CUDA tests compare the graph route with
the eager route of the Trainer step by step (resampling, a changing learning rate, causal
weighting and loss balancing included) and check that a divergence fails both at the same step.
"""
import copy
import logging
import math
from types import SimpleNamespace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lab import TrainConfig, Trainer, get_model_config, get_problem
from lab.models import list_models
from lab.problems import list_problems
from lab.training import graphs
from lab.training.events import Failed, Step
from lab.training.tasks import Task, task_for

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
TINY = dict(steps=12, n_pde=128, n_ic=32, n_bc=32, log_every=1, snapshot_every=1000,
            checkpoint_every=1000, lr=1e-3)
#: training methods whose state lives on the device, so their steps may be captured. On the
#: 20-step runs below, ε climbs to level 5 by step 4, holds at step 5, climbs to 6 and holds
#: (on the CPU, min w is at least 5 % from δ in log terms at each decision)
CAUSAL = dict(causal=True, causal_chunks=4, causal_eps=[1e-3 * 4**k for k in range(10)], causal_delta=0.92)
METHODS = {"causal": CAUSAL, "grad_norm": dict(balancing="grad_norm", balance_every=5),
           "causal+ntk": dict(CAUSAL, balancing="ntk", balance_every=4, ntk_points=4)}


def _run(device="cpu", width=8, depth=2, **overrides):
    events = []
    cfg = TrainConfig(**{**TINY, "device": device, **overrides})
    result = Trainer(get_problem("burgers"), get_model_config("mlp", width=width, depth=depth), cfg,
                     sinks=[events.append]).run()
    return result, events


def _losses(events):
    return [(e.step, e.total, e.losses) for e in events if isinstance(e, Step)]


def test_host_controlled_features_keep_the_eager_loop():
    task = SimpleNamespace(family="pinn", batch_inside_step=False)  # draws its batch ahead
    gpu, cpu = torch.device("cuda"), torch.device("cpu")
    assert graphs.blockers(task, TrainConfig(), gpu) == []
    for every in (1, 100):  # fresh points, even every step, are drawn between replays
        assert graphs.blockers(task, TrainConfig(resample_every=every, resampling="rad"), gpu) == []
    for method in METHODS.values():  # their state stays on the device
        assert graphs.blockers(task, TrainConfig(**method), gpu) == []
    [reason] = graphs.blockers(task, TrainConfig(cuda_graphs=False), gpu)
    assert "cuda_graphs" in reason
    [reason] = graphs.blockers(task, TrainConfig(), cpu)
    assert "cpu" in reason
    [reason] = graphs.blockers(SimpleNamespace(family="ode", batch_inside_step=True), TrainConfig(), gpu)
    assert "ode" in reason and "inside every step" in reason


def test_points_are_drawn_once_per_step(monkeypatch):
    """Due steps redraw once however often the loss is evaluated (an L-BFGS line search
    evaluates one step several times); the captured route's draw ahead of a step leaves
    nothing for the step itself to draw."""
    cfg = TrainConfig(**{**TINY, "resample_every": 2})
    task, _ = _task_and_optimizer(cfg)
    drawn = []
    monkeypatch.setattr(task, "resample", lambda adaptive=False: drawn.append(adaptive))
    for step in range(7):
        task.draw(step)
        for _ in range(3):
            task.loss_terms(step)
    assert len(drawn) == 3  # steps 2, 4 and 6


def test_cpu_ignores_the_option_and_both_paths_use_the_shared_loss(monkeypatch):
    calls = []
    shared = graphs.weighted_loss
    monkeypatch.setattr(graphs, "weighted_loss", lambda task, step: calls.append(step) or shared(task, step))
    _, on = _run(cuda_graphs=True)
    assert calls == list(range(TINY["steps"]))
    _, off = _run(cuda_graphs=False)
    assert _losses(on) == _losses(off)


def _task_and_optimizer(cfg, device="cpu", *, capturable=False):
    """The task and optimizer a Trainer would build from ``cfg`` on ``device``."""
    device = torch.device(device)
    problem = get_problem("burgers")
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = get_model_config("mlp", width=8, depth=2).build(problem).to(device)
    task = task_for("pinn")(problem, model, cfg, device=device, dtype=torch.float32,
                            generator=torch.Generator().manual_seed(cfg.seed))
    params = [p for p in model.parameters() if p.requires_grad]
    return task, graphs.adam(params, cfg.lr, device, capturable=capturable)


@pytest.mark.parametrize("method", ["plain", *METHODS])
def test_the_captured_step_is_the_eager_step(method):
    """The body the graph records, run eagerly, reproduces the Trainer's losses bit for bit."""
    kw = dict(lr_schedule="constant", resample_every=4, **METHODS.get(method, {}))
    cfg = TrainConfig(**{**TINY, **kw})
    _, events = _run(**kw)
    eager = [e.total for e in events if isinstance(e, Step)]
    task, opt = _task_and_optimizer(cfg)
    runner = graphs.CapturedAdam(task, opt, 0)
    body = [float(runner._body(s)[0]) for s in range(cfg.steps)]
    assert body == eager
    assert runner.nonfinite() is None


class _HostReads(TorchDispatchMode):
    """Counts values read back from tensors: ``.item()``, ``float()``, ``bool()`` and indexing
    by a 0-d tensor all dispatch ``aten._local_scalar_dense`` (on CUDA, a synchronisation)."""

    count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func is torch.ops.aten._local_scalar_dense.default
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("method", METHODS)
def test_causal_and_balancing_read_nothing_back_inside_a_step(method):
    """What a CUDA graph would refuse to capture, counted on the CPU: no loss of these methods
    reads a value back, not even on the steps that rebalance (they run eagerly, but at the
    device's pace)."""
    task, _ = _task_and_optimizer(TrainConfig(**{**TINY, **METHODS[method]}))
    with _HostReads() as reads:
        for s in range(12):
            graphs.weighted_loss(task, s)
    assert reads.count == 0
    if task.causal is not None:
        assert int(task.causal.level) > 0  # ε advanced, on the device


OPERATOR = dict(n_train=12, n_val=4, batch_size=4, resolution=32, solve_resolution=64)
FNO_SMALL = dict(modes=6, width=8, n_layers=2, projection_channels=16)
ROLLOUT = dict(n_train=8, n_val=2, batch_size=4, resolution=16, solve_resolution=32, time_steps=6, history=2,
               rollout_steps=2, eval_steps=3)
OPERATOR_CASES = {"burgers_operator": OPERATOR, "ns2d_operator": ROLLOUT}


@pytest.mark.parametrize("key", OPERATOR_CASES)
def test_the_operator_batch_drawn_ahead_is_the_batch_of_the_eager_step(key):
    """Drawing each mini-batch (or rollout window) before the step, as replays do, gives the
    eager losses bit for bit."""
    events = []
    cfg = TrainConfig(steps=10, lr=1e-3, lr_schedule="constant", log_every=1, snapshot_every=1000,
                      checkpoint_every=1000, device="cpu")
    Trainer(get_problem(key, **OPERATOR_CASES[key]), get_model_config("fno", **FNO_SMALL), cfg,
            sinks=[events.append]).run()
    eager = [e.total for e in events if isinstance(e, Step)]
    problem = get_problem(key, **OPERATOR_CASES[key])
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = get_model_config("fno", **FNO_SMALL).build(problem)
    task = task_for("operator")(problem, model, cfg, device=torch.device("cpu"), dtype=torch.float32,
                                generator=torch.Generator().manual_seed(cfg.seed))
    runner = graphs.CapturedAdam(task, graphs.adam(list(model.parameters()), cfg.lr, torch.device("cpu"),
                                                   capturable=False), 0)
    body = []
    for s in range(cfg.steps):
        if s >= 3:  # the warm-up steps draw inside the step, the captured ones ahead of it
            task.draw(s)
        body.append(float(runner._body(s)[0]))
    assert body == eager
    assert len(set(body)) == cfg.steps  # a new batch every step


def test_the_first_nonfinite_step_is_recorded_on_the_device():
    cfg = TrainConfig(**TINY)
    task, opt = _task_and_optimizer(cfg)
    runner = graphs.CapturedAdam(task, opt, 5)
    for s in range(5, 8):
        runner._body(s)
    assert runner.nonfinite() is None
    with torch.no_grad():
        next(task.model.parameters()).fill_(math.nan)
    for s in range(8, 11):
        total = runner._body(s)[0]
        assert not torch.isfinite(total)
    assert runner.nonfinite() == 8


def _poison_after(k):
    """A sink that makes every parameter NaN when step ``k`` is logged."""
    state = {}

    def sink(event):
        if isinstance(event, Step) and event.step == k:
            with torch.no_grad():
                for p in state["trainer"].model.parameters():
                    p.fill_(math.nan)
    return state, sink


def _diverging_run(device, **overrides):
    state, sink = _poison_after(10)
    events = []
    cfg = TrainConfig(**{**TINY, "steps": 30, "log_every": 5, "checkpoint_every": 5,
                         "device": device, **overrides})
    trainer = Trainer(get_problem("burgers"), get_model_config("mlp", width=8, depth=2), cfg,
                      sinks=[events.append, sink])
    state["trainer"] = trainer
    result = trainer.run()
    return result, [e for e in events if isinstance(e, Failed)]


def test_divergence_names_the_step_and_keeps_the_last_good_checkpoint_on_cpu():
    # the poison lands when step 10 is logged: the checkpoint of step 10 is refused (NaN
    # parameters), the loss of step 10 is the first non-finite one
    result, [failed] = _diverging_run("cpu")
    assert result.status == "failed" and failed.step == 10
    assert "non-finite at step 10" in failed.message and failed.checkpoint_step == 5


@cuda
@pytest.mark.parametrize("every", [1, 10])
def test_graph_and_eager_losses_agree_on_cuda(caplog, every):
    """40 steps with resampling every step or every 10, and a learning rate that changes
    every step."""
    kw = dict(device="cuda", width=64, depth=3, steps=40, n_pde=2048, resample_every=every,
              lr_schedule="exponential", lr_decay=0.5, lr_decay_steps=10)
    with caplog.at_level(logging.INFO, logger="lab.training.trainer"):
        _, graph = _run(cuda_graphs=True, **kw)
    assert "as a CUDA graph" in caplog.text
    _, eager = _run(cuda_graphs=False, **kw)
    g, e = _losses(graph), _losses(eager)
    assert [s for s, _, _ in g] == [s for s, _, _ in e] == list(range(1, 41))
    worst = max(abs(a[1] - b[1]) / abs(b[1]) for a, b in zip(g, e))
    assert worst < 1e-4, worst
    for (_, _, la), (_, _, lb) in zip(g, e):
        assert la.keys() == lb.keys()
        assert all(la[k] == pytest.approx(lb[k], rel=1e-4) for k in la)


def _eager_losses(task, opt, n: int) -> list[float]:
    """Totals of ``n`` plain eager Adam steps of ``task``: what a captured run must reproduce."""
    out = []
    for s in range(n):
        opt.zero_grad(set_to_none=True)
        total = graphs.weighted_loss(task, s)[0]
        total.backward()
        opt.step()
        out.append(float(total.detach()))
    return out


@cuda
@pytest.mark.parametrize("method", METHODS)
def test_causal_and_balanced_steps_are_captured_with_the_eager_losses(method):
    """20 steps, points resampled at step 10: ε advances inside replays, and the steps that
    rebalance run eagerly between them (step 10 also resamples there), overwriting the weights
    the replays read. Losses, ε level, causal and balancing weights match the eager loop."""
    device = torch.device("cuda")
    cfg = TrainConfig(**{**TINY, "resample_every": 10, **METHODS[method]})
    eager, opt = _task_and_optimizer(cfg, device)
    want = _eager_losses(eager, opt, 20)
    task, opt = _task_and_optimizer(cfg, device, capturable=True)
    assert graphs.blockers(task, cfg, device) == []
    runner = graphs.CapturedAdam(task, opt, 0)
    got = [float(runner.step(s, cfg.lr)[0]) for s in range(20)]
    assert runner.graph is not None and runner.fallback is None
    assert runner.nonfinite() is None
    assert got == pytest.approx(want, rel=1e-4)
    extras, expected = task.extras(), eager.extras()
    assert extras.keys() == expected.keys()
    for k, v in expected.items():
        assert extras[k] == pytest.approx(v, rel=1e-4), k
    if task.causal is not None:
        assert extras["causal_level"] >= 6  # climbed, held, climbed again (see METHODS)


@cuda
def test_a_causal_balanced_run_captures_in_the_trainer(caplog):
    """Through the Trainer: Step events of replays carry the weights and causal diagnostics of
    the eager route."""
    kw = dict(device="cuda", steps=20, resample_every=10, **METHODS["causal+ntk"])
    with caplog.at_level(logging.INFO, logger="lab.training"):
        _, graph = _run(cuda_graphs=True, **kw)
    assert "as a CUDA graph" in caplog.text and "cannot be captured" not in caplog.text
    _, eager = _run(cuda_graphs=False, **kw)
    g, e = [ev for ev in graph if isinstance(ev, Step)], [ev for ev in eager if isinstance(ev, Step)]
    assert [ev.step for ev in g] == [ev.step for ev in e] == list(range(1, 21))
    for a, b in zip(g, e):
        assert a.total == pytest.approx(b.total, rel=1e-4)
        assert a.weights == pytest.approx(b.weights, rel=1e-4)
        assert a.extras["causal_level"] == b.extras["causal_level"]
        assert a.extras["causal_weights"] == pytest.approx(b.extras["causal_weights"], rel=1e-4)
        assert a.extras["balance_weights"] == pytest.approx(b.extras["balance_weights"], rel=1e-4)


@cuda
def test_divergence_fails_at_the_same_step_on_both_cuda_routes():
    a, [fa] = _diverging_run("cuda", cuda_graphs=True)
    b, [fb] = _diverging_run("cuda", cuda_graphs=False)
    assert a.status == b.status == "failed"
    assert fa.step == fb.step == 10 and fa.checkpoint_step == fb.checkpoint_step == 5
    assert fa.message == fb.message


@cuda
@pytest.mark.parametrize("key", OPERATOR_CASES)
def test_captured_operator_steps_give_the_eager_losses(key, caplog):
    """A fresh mini-batch (or rollout window) per replay, copied into the graph's inputs."""
    runs = {}
    for graph in (True, False):
        events = []
        cfg = TrainConfig(steps=12, lr=1e-3, lr_schedule="exponential", lr_decay=0.5, lr_decay_steps=4,
                          log_every=1, snapshot_every=1000, checkpoint_every=1000, device="cuda",
                          cuda_graphs=graph)
        with caplog.at_level(logging.INFO, logger="lab.training"):
            result = Trainer(get_problem(key, **OPERATOR_CASES[key]), get_model_config("fno", **FNO_SMALL), cfg,
                             sinks=[events.append]).run()
        assert result.status == "completed", result.message
        runs[graph] = [e.total for e in events if isinstance(e, Step)]
    assert "as a CUDA graph" in caplog.text and "cannot be captured" not in caplog.text
    assert len(runs[True]) == len(runs[False]) == 12 and len(set(runs[False])) == 12
    assert runs[True] == pytest.approx(runs[False], rel=1e-4)


class _FixedBatch(Task):
    """A PINN task on one fixed batch, without the reference solution a PINNTask computes."""

    family = "pinn"

    def __init__(self, problem, model, config, device):
        super().__init__(problem, model, config, device=device, dtype=torch.float32,
                         generator=torch.Generator().manual_seed(0))
        self.batch = problem.sample(config.n_pde, config.n_ic, config.n_bc, self.generator,
                                    device=device, dtype=torch.float32)

    def loss_terms(self, step):
        return self.problem.losses(self.model, self.batch)


PINN_PROBLEMS = [k for k, cls in list_problems().items() if cls.kind not in ("ode", "operator")]
CASES = [(k, "mlp") for k in PINN_PROBLEMS] + [("burgers", m) for m in list_models("pinn") if m != "mlp"] + \
    [("convection", "fourier_mlp"), ("allen_cahn", "modified_mlp")]  # exact periodic embeddings


@cuda
@pytest.mark.parametrize("key,kind", CASES)
def test_every_pinn_problem_and_model_captures(key, kind):
    """Eight steps (three eager, then replays) equal eight eager steps, for each catalogue entry."""
    device = torch.device("cuda")
    cfg = TrainConfig(n_pde=512, n_ic=64, n_bc=64, lr=1e-3)
    problem = get_problem(key)
    params = dict(width=32, depth=2) if kind in ("mlp", "fourier_mlp", "modified_mlp") else {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_model_config(kind, **params).build(problem).to(device, torch.float32)
    twin = copy.deepcopy(model)
    eager = _FixedBatch(problem, twin, cfg, device)
    opt = graphs.adam(list(twin.parameters()), cfg.lr, device, capturable=False)
    want = _eager_losses(eager, opt, 8)
    task = _FixedBatch(problem, model, cfg, device)
    runner = graphs.CapturedAdam(task, graphs.adam(list(model.parameters()), cfg.lr, device,
                                                   capturable=True), 0)
    got = [float(runner.step(s, cfg.lr)[0]) for s in range(8)]
    # every catalogue loss keeps its data on the device (a host copy per call would not capture)
    assert runner.graph is not None, runner.fallback
    assert runner.nonfinite() is None
    assert got == pytest.approx(want, rel=1e-4)


@cuda
@pytest.mark.parametrize("key", ["darcy2d", "ns2d_decaying", "ns2d_kolmogorov", "ns3d_isotropic"])
def test_problems_with_precomputed_data_capture(key):
    """Coefficients, initial fields and spectral wavenumbers are held or built on the device, so
    these losses capture."""
    device = torch.device("cuda")
    cfg = TrainConfig(n_pde=256, n_ic=64, n_bc=64, lr=1e-3)
    problem = get_problem(key)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_model_config("mlp", width=32, depth=2).build(problem).to(device, torch.float32)
    runner = graphs.CapturedAdam(_FixedBatch(problem, model, cfg, device),
                                 graphs.adam(list(model.parameters()), cfg.lr, device, capturable=True), 0)
    for s in range(6):
        runner.step(s, cfg.lr)
    assert runner.graph is not None, runner.fallback


class _SyncingBurgers(type(get_problem("burgers"))):
    """Burgers whose residual draws random numbers, then reads a value back to the host: not
    capturable, and the failed capture has used the device's generator."""

    def residual(self, f):
        r = super().residual(f)
        r = r + 0.0 * torch.rand_like(r)
        return r * 1.0 if float(r.detach().abs().max()) < 1e30 else r


@cuda
def test_a_loss_that_syncs_falls_back_to_eager_with_the_same_losses(caplog):
    device = torch.device("cuda")
    cfg = TrainConfig(n_pde=512, n_ic=64, n_bc=64, lr=1e-3)
    problem = _SyncingBurgers()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_model_config("mlp", width=32, depth=2).build(problem).to(device, torch.float32)
    twin = copy.deepcopy(model)
    eager = _FixedBatch(problem, twin, cfg, device)
    opt = graphs.adam(list(twin.parameters()), cfg.lr, device, capturable=False)
    want = _eager_losses(eager, opt, 8)
    runner = graphs.CapturedAdam(_FixedBatch(problem, model, cfg, device),
                                 graphs.adam(list(model.parameters()), cfg.lr, device, capturable=True), 0)
    with caplog.at_level(logging.WARNING, logger="lab.training.graphs"):
        got = [float(runner.step(s, cfg.lr)[0]) for s in range(8)]
    assert runner.graph is None and runner.fallback and "runs eagerly" in caplog.text
    assert got == pytest.approx(want, rel=1e-4)
    # the process goes on as before: default stream, and random draws on the device work
    assert torch.cuda.current_stream() == torch.cuda.default_stream()
    assert torch.rand(4, device=device).isfinite().all()
