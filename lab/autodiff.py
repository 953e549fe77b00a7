"""Lazy, cached partial derivatives of a network's output, for writing PDE residuals.

A residual is written as maths — ``f.d("t") + f() * f.d("x") - nu * f.d("x", "x")`` — and
only the derivatives it asks for are computed, each once. Two engines serve that interface:

* :class:`Fields` — reverse-mode autograd with ``create_graph=True`` (nested passes for higher
  orders). It works for any model.
* :class:`TaylorFields` — forward (Taylor-mode) propagation of jets through a plain MLP
  (``Normalize`` + ``Linear`` / ``tanh`` / ``sin`` layers): value, and the partials a residual
  needs, in ONE forward pass. With ``h_i = ∂h/∂x_i`` etc., a layer ``z = W h + b`` maps
  ``z_c = W h_c`` for every derivative component ``c`` (bias on the value only), so the
  value and all components are stacked along a leading dimension and each ``Linear`` is one
  matmul. An activation ``a = σ(z)`` follows Faà di Bruno's formula over the set partitions
  π of the differentiation positions, ``a_{i1…ik} = Σ_π σ^{(|π|)}(z) Π_{B∈π} z_B``
  (``a_ij = σ''(z) z_i z_j + σ'(z) z_ij``), which holds for every order: KdV's ``u_xxx`` and
  Kuramoto–Sivashinsky's ``u_xxxx`` are propagated the same way. Only sub-multisets of the
  requested partials are carried. Everything stays an ordinary torch graph, so the loss is
  differentiated for training (and twice for Hessians) like any other. A model whose input
  encoding gives its own jet (``encoding_jet``: PIG's Gaussians, exponentials of quadratics)
  feeds that jet to its plain MLP ``head`` the same way.

Why: a nested reverse pass per derivative order re-traverses the network (and its backward
graph) at every level; the jet costs one traversal of ``K``-times-wider activations, which at
PINN sizes means far fewer and larger kernels.

:meth:`Fields.for_problem` picks the engine: the residual is run once on two points with a
recording autograd ``Fields`` to learn which partials it asks for (memoised per problem class
and parameter values — the residual's identity — so no caller ever clears it); the Taylor
engine is used on CUDA when the model is a plain MLP with a supported activation (tanh, sin)
or an encoding with such a head (PIG), its jet compiled by ``torch.compile`` (fused
elementwise kernels: the loss then needs only a first-order backward, which compiles too),
autograd otherwise (any other model, activation or device; see :meth:`Fields.for_problem`).
"""
from __future__ import annotations

import functools
import importlib.util
import json
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from itertools import combinations

import torch
from torch import nn
from torch.nn import functional as F

from lab.nn import Normalize, Sine

#: engines of :meth:`Fields.for_problem`
ENGINES = ("auto", "autograd", "taylor", "compiled")
#: ``torch.compile`` generates CUDA kernels through Triton
_HAS_TRITON = importlib.util.find_spec("triton") is not None


class Fields:
    """Network output ``u = model(X)`` and its partial derivatives at the points ``X``."""

    def __init__(self, model, X: torch.Tensor, axes: tuple[str, ...]):
        self.X = X if X.requires_grad else X.detach().requires_grad_(True)
        self.axes = tuple(axes)
        self.u = model(self.X)
        if self.u.ndim == 1:
            self.u = self.u[:, None]
        self._cache: dict[tuple, torch.Tensor] = {}

    def _wrt(self) -> torch.Tensor:
        """The points derivatives are taken with respect to."""
        return self.X

    def coord(self, axis: str) -> torch.Tensor:
        """The coordinate column ``axis`` of ``X`` (for coefficients and forcing terms)."""
        return self.X[:, self.axes.index(axis)]

    def __call__(self, out: int = 0) -> torch.Tensor:
        return self.u[:, out]

    def d(self, *axes: str, out: int = 0) -> torch.Tensor:
        """Mixed partial derivative of output ``out``, e.g. ``d("x", "x")`` = u_xx."""
        if not axes:
            return self(out)
        key = (out,) + axes
        if key not in self._cache:
            lower = self.d(*axes[:-1], out=out)
            grad = torch.autograd.grad(lower.sum(), self._wrt(), create_graph=True)[0]
            # cache every first partial of ``lower`` at once: one backward pass serves them all
            for i, ax in enumerate(self.axes):
                self._cache.setdefault((out,) + axes[:-1] + (ax,), grad[:, i])
        return self._cache[key]

    @classmethod
    def for_problem(cls, problem, model, X: torch.Tensor, engine: str = "auto") -> "Fields":
        """Fields for ``problem.residual`` at ``X``.

        ``"auto"``: on CUDA, where ``model`` is a plain MLP or PIG (an encoding with an MLP
        head), Taylor mode through ``torch.compile`` (``"compiled"``; eager ``"taylor"`` when the
        residual reads ``f.X``, which it may differentiate, or when Triton, which compiles for
        CUDA, is not installed); autograd otherwise — on a CPU the jet is measured 5–20 %
        slower per Adam step (3×20 and 4×64 MLPs, one thread), since there the saving is in
        kernel launches and memory passes, not arithmetic; on an H200, PIG's compiled jet ran
        Klein–Gordon (4000 Gaussians, 8192 points) at 417 Adam steps/s, autograd at 39.
        ``"autograd"`` forces autograd; ``"taylor"`` and ``"compiled"`` force Taylor mode, eager
        or compiled, and raise if the model is neither (``"compiled"`` also if the residual
        reads ``f.X``)."""
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        if engine == "autograd" or (engine == "auto" and X.device.type != "cuda"):
            return cls(model, X, problem.axes)
        if engine == "auto" and not taylor_supported(model):
            return cls(model, X, problem.axes)
        if not taylor_supported(model):
            raise ValueError(_unsupported(f"engine={engine!r}", model))
        rec = residual_requests(problem, model, X)
        if engine == "compiled" and rec.uses_X:
            raise ValueError(f"engine='compiled' cannot serve {type(problem).__name__}: its residual "
                             f"reads f.X, which it may differentiate (a compiled jet is "
                             f"differentiable once); use 'taylor'")
        compiled = engine == "compiled" or (engine == "auto" and not rec.uses_X and _HAS_TRITON)
        return TaylorFields(model, X, problem.axes, rec.keys, grad_X=rec.uses_X, compiled=compiled)


# ---- which partials a residual asks for --------------------------------------------------------
class _RecordingFields(Fields):
    """Autograd ``Fields`` that notes every partial requested and whether ``X`` itself is read."""

    def __init__(self, model, X, axes):
        self.keys: set[tuple[str, ...]] = set()
        super().__init__(model, X, axes)
        self.uses_X = False  # reads by the residual count, not the model's own

    @property
    def X(self):
        self.uses_X = True
        return self._X

    @X.setter
    def X(self, value):
        self._X = value

    def coord(self, axis):
        return self._X[:, self.axes.index(axis)]

    def _wrt(self):  # differentiating is not a read of X by the residual
        return self._X

    def d(self, *axes, out=0):
        self.keys.add(tuple(axes))
        return super().d(*axes, out=out)


@dataclass(frozen=True)
class Requests:
    """The partials a residual asks for (axis tuples) and whether it reads ``f.X`` itself."""

    keys: frozenset
    uses_X: bool


#: memo of :func:`residual_requests`, keyed by the residual's identity (class, parameter values)
_REQUESTS: OrderedDict[tuple, Requests] = OrderedDict()
_REQUESTS_MAX = 256


def residual_requests(problem, model, X: torch.Tensor) -> Requests:
    """Run ``problem.residual`` on two points of ``X`` with a recording autograd ``Fields``.

    The requests depend only on the residual's code and parameters, so they are memoised per
    ``(problem class, parameter values)``; a new parameter value records afresh.
    """
    key = (type(problem), json.dumps(problem.config(), sort_keys=True, default=repr))
    if key not in _REQUESTS:
        with torch.enable_grad():
            f = _RecordingFields(model, X[:2].detach(), problem.axes)
            problem.residual(f)
        _REQUESTS[key] = Requests(frozenset(f.keys), f.uses_X)
        if len(_REQUESTS) > _REQUESTS_MAX:
            _REQUESTS.popitem(last=False)
    return _REQUESTS[key]


# ---- Taylor mode through plain MLPs -------------------------------------------------------------
_ACTIVATIONS = {nn.Tanh: "tanh", Sine: "sin"}


def _leaves(module: nn.Module) -> list[nn.Module] | None:
    """The layers of nested ``nn.Sequential`` containers in order, or ``None`` for anything else."""
    if type(module) is not nn.Sequential:
        return [module]
    out = []
    for m in module:
        out.extend(_leaves(m))
    return out


def _mlp_layers(model) -> tuple[Normalize | None, list[tuple[nn.Linear, str | None]]] | None:
    """``(normalize, [(linear, activation name or None), ...])`` of a plain MLP, else ``None``."""
    if not isinstance(model, nn.Module) or type(model) is not nn.Sequential:
        return None
    leaves = _leaves(model)
    norm = leaves.pop(0) if leaves and type(leaves[0]) is Normalize else None
    layers: list[tuple[nn.Linear, str | None]] = []
    for m in leaves:
        if type(m) is nn.Linear:
            layers.append((m, None))
        elif type(m) in _ACTIVATIONS and layers and layers[-1][1] is None:
            layers[-1] = (layers[-1][0], _ACTIVATIONS[type(m)])
        else:
            return None
    return (norm, layers) if layers else None


def _encoded_head(model) -> tuple[None, list[tuple[nn.Linear, str | None]]] | None:
    """The head's layers (as :func:`_mlp_layers`) of a model that gives the jet of its own
    input encoding (``encoding_jet(jet, X)``, e.g. PIG) and decodes it by a plain MLP
    ``head``, else ``None``."""
    if not callable(getattr(model, "encoding_jet", None)):
        return None
    parsed = _mlp_layers(getattr(model, "head", None))
    return parsed if parsed is not None and parsed[0] is None else None


def taylor_supported(model) -> bool:
    """Whether :class:`TaylorFields` can propagate jets through ``model``."""
    return _mlp_layers(model) is not None or _encoded_head(model) is not None


def _unsupported(what: str, model) -> str:
    """The refusal of a model that Taylor mode cannot serve."""
    return (f"{what} needs a plain MLP (Normalize, Linear, {'/'.join(_ACTIVATIONS.values())}) "
            f"or an encoding_jet model with such a head (PIG); got {type(model).__name__}")


def _set_partitions(n: int) -> list[list[tuple[int, ...]]]:
    """All partitions of ``range(n)`` into blocks (Bell(n) of them)."""
    if n == 0:
        return [[]]
    out = []
    for part in _set_partitions(n - 1):
        for i in range(len(part)):
            out.append(part[:i] + [part[i] + (n - 1,)] + part[i + 1:])
        out.append(part + [(n - 1,)])
    return out


class _Jet:
    """Layout of the stacked components: every sub-multiset of the requested partials.

    Component ``0`` is the value; the others are sorted axis-index tuples grouped by order
    (``sizes[k]`` components of order ``k``). For each order ``k >= 2`` and each set partition
    with at least two blocks, ``terms[k]`` holds ``(|π|, [(order of block, component index
    within that order, one per component of order k) per block])``: Faà di Bruno vectorised
    over the components of one order.
    """

    def __init__(self, needed: set[tuple[int, ...]]):
        keys = {()}
        for c in needed:  # c is sorted, so are its sub-multisets
            keys.update(s for k in range(1, len(c) + 1) for s in combinations(c, k))
        self.keys = sorted(keys, key=lambda c: (len(c), c))
        self.index = {c: i for i, c in enumerate(self.keys)}
        self.order = len(self.keys[-1])
        orders = [len(c) for c in self.keys]
        self.sizes = [orders.count(k) for k in range(self.order + 1)]
        local = {c: i - orders.index(len(c)) for i, c in enumerate(self.keys)}
        self.terms: dict[int, list[tuple[int, list[tuple[int, list[int]]]]]] = {}
        for k in range(2, self.order + 1):
            comps = [c for c in self.keys if len(c) == k]
            self.terms[k] = [(len(p), [(len(b), [local[tuple(sorted(c[i] for i in b))] for c in comps])
                                       for b in p])
                             for p in _set_partitions(k) if len(p) > 1]


def _derivatives(name: str, z: torch.Tensor, order: int) -> list[tuple[torch.Tensor, float]]:
    """``σ^(k)(z)`` for ``k = 0..order``, each as ``(tensor, scale)`` (the scale is folded into
    the next multiply instead of costing a pass of its own).

    sin: the derivatives cycle sin, cos, −sin, −cos. tanh: with t = tanh z, σ' = 1 − t²,
    σ'' = −2tσ' and in general σ^(k) = σ' Q_k(t), Q_1 = 1, Q_{k+1} = −2t Q_k + (1 − t²) Q_k'.
    exp (PIG's Gaussians, :meth:`lab.models.pig.GaussianField.encoding_jet`): all exp z.
    """
    if name == "exp":
        return [(torch.exp(z), 1.0)] * (order + 1)
    if name == "sin":
        s = torch.sin(z)
        c = torch.cos(z) if order else None
        return [((s, c)[k % 2], (1.0, 1.0, -1.0, -1.0)[k % 4]) for k in range(order + 1)]
    t = torch.tanh(z)
    out = [(t, 1.0)]
    if order >= 1:
        s = 1 - t * t
        out.append((s, 1.0))
    if order >= 2:
        out.append((t * s, -2.0))
    q = [0.0, -2.0]  # Q_2(t) = −2t, coefficients lowest power first
    for _ in range(3, order + 1):
        new = [0.0] * (len(q) + 1)
        for i, a in enumerate(q):
            new[i + 1] -= 2 * a
            if i:
                new[i - 1] += i * a
                new[i + 1] -= i * a
        q = new
        poly = q[-1] * t + q[-2]
        for a in reversed(q[:-2]):
            poly = poly * t + a
        out.append((s * poly, 1.0))
    return out


def _gather(chunk: torch.Tensor, rows: dict, j: int, idx: list[int]) -> torch.Tensor:
    """Rows ``idx`` of the order-``j`` chunk. Whole chunks are used as they are; otherwise
    rows come from one ``unbind`` per chunk (its backward is one ``stack``, where slices of a
    shared tensor would each allocate and zero a full-size gradient)."""
    if idx == list(range(chunk.shape[0])):
        return chunk
    if j not in rows:
        rows[j] = chunk.unbind(0)
    return rows[j][idx[0]][None] if len(idx) == 1 else torch.stack([rows[j][i] for i in idx])


def _mlp_tensors(norm, layers, dtype):
    """``(activations, center, radius, weights, biases)``: the plain MLP as tensors and names,
    the inputs of :func:`_jet_forward` (tensors, not modules, so one compiled graph serves
    every MLP of the same shapes)."""
    center = norm.center.to(dtype) if norm is not None else None
    radius = norm.radius.to(dtype) if norm is not None else None
    return (tuple(act for _, act in layers), center, radius,
            [lin.weight for lin, _ in layers], [lin.bias for lin, _ in layers])


def _jet_forward(jet: _Jet, acts, X, center, radius, weights, biases) -> torch.Tensor:
    """Value and the jet's partials of the MLP at ``X``: ``(K, N, n_outputs)``."""
    if center is not None:
        inv_r = 1 / radius
        h0 = (X - center) / radius
    else:
        inv_r, h0 = torch.ones(X.shape[1], dtype=X.dtype, device=X.device), X
    # first layer: the input's jet is (x̂, e_i / r_i, 0, ...), so z_c = Π_p W[:, c_p] / r_{c_p}
    # for first partials and 0 above; σ's jet then keeps one term per component
    z0 = F.linear(h0, weights[0], biases[0])
    w = (weights[0] * inv_r).t()  # (d, H): ∂z/∂x_i
    if acts[0] is None:  # an affine first layer passes first partials only
        comps = [w[c[0]] if len(c) == 1 else torch.zeros_like(w[0]) for c in jet.keys[1:]]
        H = torch.cat([z0[None]] + [c.expand_as(z0)[None] for c in comps])
    else:
        sig = _derivatives(acts[0], z0, jet.order)
        parts = [sig[0][0][None]]
        start = 1
        for k in range(1, jet.order + 1):
            coef = torch.stack([functools.reduce(torch.mul, [w[a] for a in c])
                                for c in jet.keys[start:start + jet.sizes[k]]])
            parts.append(sig[k][0][None] * (sig[k][1] * coef)[:, None, :])
            start += jet.sizes[k]
        H = torch.cat(parts)
    return _propagate(jet, H, acts[1:], weights[1:], biases[1:])


def _propagate(jet: _Jet, H, acts, weights, biases) -> torch.Tensor:
    """The stacked jet ``H`` (K, N, width) through ``Linear`` layers and their activations."""
    for weight, bias, act in zip(weights, biases, acts):
        chunks = list(F.linear(H, weight).split(jet.sizes))  # ONE matmul for all components
        chunks[0] = chunks[0].squeeze(0) + bias if bias is not None else chunks[0].squeeze(0)
        H = _activate(jet, act, chunks) if act is not None else torch.cat([chunks[0][None]] + chunks[1:])
    return H


def _encoded_jet_forward(jet: _Jet, model, X, acts, weights, biases) -> torch.Tensor:
    """Value and the jet's partials of an encoded model (``model.encoding_jet``, e.g. PIG)
    followed by its plain MLP head: ``(K, N, n_outputs)``."""
    return _propagate(jet, model.encoding_jet(jet, X), acts, weights, biases)


def _activate(jet: _Jet, act: str, chunks: list[torch.Tensor]) -> torch.Tensor:
    """Faà di Bruno per order, vectorised over that order's components."""
    sig = _derivatives(act, chunks[0], jet.order)
    parts = [sig[0][0][None]]
    rows: dict[int, tuple[torch.Tensor, ...]] = {}
    for k in range(1, jet.order + 1):
        acc = sig[1][0][None] * chunks[k]
        for size, blocks in jet.terms.get(k, ()):
            prod = None
            for j, idx in blocks:
                g = _gather(chunks[j], rows, j, idx)
                prod = g if prod is None else prod * g
            acc = torch.addcmul(acc, sig[size][0][None], prod, value=sig[size][1])
        parts.append(acc)
    return torch.cat(parts)


def _compile(forward):
    """``forward`` (:func:`_jet_forward` or :func:`_encoded_jet_forward`) through ``torch.compile``.

    Why: the jet's activations are many small elementwise kernels per layer (Faà di Bruno's
    terms, forward and backward); compiled, each layer's are fused into a few, while the
    matmuls stay cuBLAS. The loss built on it needs only a first-order backward, which
    ``torch.compile`` traces (it does not trace the double backward of autograd ``Fields``).
    Shapes are static (the fastest kernels): a new jet layout or new shapes compile afresh,
    so an app session visiting many problems needs more than dynamo's default of 8 graphs
    per function; past the raised limit :class:`TaylorFields` falls back to the eager jet.
    """
    cfg = torch._dynamo.config
    cfg.recompile_limit = max(cfg.recompile_limit, 64)
    # No donated buffers (process-wide: the backward is compiled lazily, outside any scope set
    # here): loss balancing differentiates each loss term on its own (retain_graph=True), which
    # a backward that reuses its saved buffers forbids.
    torch._functorch.config.donated_buffer = False
    return torch.compile(forward, fullgraph=True, dynamic=False)


@functools.cache
def _compiled_jet_forward():
    """:func:`_jet_forward` compiled (built on first use; one per process)."""
    return _compile(_jet_forward)


@functools.cache
def _compiled_encoded_jet_forward():
    """:func:`_encoded_jet_forward` compiled (built on first use; one per process)."""
    return _compile(_encoded_jet_forward)


@functools.lru_cache(maxsize=64)
def _jet_layout(needed: frozenset) -> _Jet:
    """The (immutable) :class:`_Jet` of a set of partials: one object per set, so a compiled
    forward sees the same layout every step."""
    return _Jet(set(needed))


class TaylorFields(Fields):
    """The :class:`Fields` interface, filled by one forward pass of jets through a plain MLP
    (or an encoding's own jet, then its MLP head: PIG).

    ``needed`` lists the partials the residual asks for as axis tuples (``("x", "x")``);
    mixed partials commute, so ``d("x", "t")`` and ``d("t", "x")`` are one component. Asking
    for a partial outside ``needed`` raises, naming it. ``compiled`` runs the jet through
    ``torch.compile`` (:func:`_compiled_jet_forward`); the result is the same function, and
    its parameter gradients too, but it cannot be differentiated twice.
    """

    def __init__(self, model, X: torch.Tensor, axes: tuple[str, ...],
                 needed: set[tuple[str, ...]], *, grad_X: bool = False, compiled: bool = False):
        parsed, head = _mlp_layers(model), _encoded_head(model)
        if parsed is None and head is None:
            raise ValueError(_unsupported("TaylorFields", model))
        self.axes = tuple(axes)
        unknown = sorted({a for c in needed for a in c} - set(self.axes))
        if unknown:
            raise ValueError(f"derivatives along {unknown} requested; the axes are {self.axes}")
        self.X = X.detach().requires_grad_(True) if grad_X and not X.requires_grad else X
        self._jet = _jet_layout(frozenset(tuple(sorted(self.axes.index(a) for a in c)) for c in needed))
        if parsed is not None:
            acts, center, radius, weights, biases = _mlp_tensors(*parsed, X.dtype)
            forward, compiled_forward = _jet_forward, _compiled_jet_forward
            args = (self._jet, acts, self.X, center, radius, weights, biases)
        else:
            acts, _, _, weights, biases = _mlp_tensors(*head, X.dtype)
            forward, compiled_forward = _encoded_jet_forward, _compiled_encoded_jet_forward
            args = (self._jet, model, self.X, acts, weights, biases)
        out = None
        if compiled:
            try:
                out = compiled_forward()(*args)
            except torch._dynamo.exc.FailOnRecompileLimitHit:
                warnings.warn("torch.compile's limit of graphs per function is reached: the "
                              "Taylor-mode jet runs eagerly (same values, more kernels)", stacklevel=2)
        if out is None:
            out = forward(*args)  # (K, N, n_outputs)
        self.u = out[0]
        self._comps = out.unbind(0)
        self._cache = {}

    def d(self, *axes: str, out: int = 0) -> torch.Tensor:
        if not axes:
            return self(out)
        key = tuple(sorted(self.axes.index(a) for a in axes))
        if key not in self._jet.index:
            raise KeyError(f"d{axes} was not among the partials this TaylorFields propagates "
                           f"({[tuple(self.axes[i] for i in c) for c in self._jet.keys[1:]]})")
        return self._comps[self._jet.index[key]][:, out]
