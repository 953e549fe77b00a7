"""Property-based: whatever settings a user gives, no traceback reaches them.

Settings are generated for every problem × model family — values inside and outside their
bounds, of the wrong type, model and training options — and each must either be refused
cleanly (a ``ValueError`` in the user's terms: a wrong value names its field by the label the
app shows, never ``Class.attribute`` or a Python type) or be accepted; accepted tiny runs must
train a step. Examples come from the derandomized ``ci`` profile (tests/conftest.py).
"""
import logging
import math
import re

import param
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.config import ConfigError, label
from lab.models import get_model_config, list_models
from lab.problems import get_problem, list_problems
from lab.training import TrainConfig, Trainer
from lab.training.preflight import FAMILY_KINDS
from lab.training.tasks import pinn

PROBLEMS = {k: c for k, c in list_problems().items() if k != "dysts"}  # dysts: tests/test_dysts.py
MODELS = list_models()
#: a class-qualified attribute (``Burgers.nu``) or a Python type in a message is internals
INTERNALS = re.compile(r"\b[A-Z][A-Za-z0-9]+\.[a-z_]+\b|<class ")
#: training settings of a one-step run (what a case leaves unset)
TINY = dict(steps=1, n_pde=16, n_ic=4, n_bc=4, log_every=1, snapshot_every=1000, device="cpu",
            cuda_graphs=False, ntk_points=4, rad_candidates=2)


def fits(problem_cls, model_cls) -> bool:
    kinds = FAMILY_KINDS.get(model_cls.family)
    return problem_cls.kind in kinds if kinds else problem_cls.kind != "operator"


def wrong_values(p: param.Parameter) -> list:
    """Values of a type ``p`` refuses."""
    if isinstance(p, param.Boolean):
        return ["abc", 1, None]
    if isinstance(p, param.Number):
        return ["abc", True, math.nan, math.inf, [1]] + ([2.5] if isinstance(p, param.Integer) else []) \
            + ([] if p.allow_None else [None])
    if isinstance(p, param.Selector):
        return ["no-such-choice"]
    if isinstance(p, param.Dict):
        return ["abc", [1]]
    if isinstance(p, param.List):
        return ["abc", 3]
    return [3]


def outside_values(p: param.Parameter) -> list:
    if not isinstance(p, param.Number) or not p.bounds:
        return []
    (lo, hi), step = p.bounds, 1 if isinstance(p, param.Integer) else 0.5
    return ([lo - step - abs(lo)] if lo is not None else []) + ([hi + step + abs(hi)] if hi is not None else [])


def inside_values(p: param.Parameter, tiny: bool) -> st.SearchStrategy:
    """In range; with ``tiny``, integers between the lower bound and the default (small sizes)."""
    if isinstance(p, param.Boolean):
        return st.booleans()
    if isinstance(p, param.Selector):
        return st.sampled_from(list(p.objects))
    if isinstance(p, param.Number) and p.bounds and None not in p.bounds:
        lo, hi = p.bounds
        if isinstance(p, param.Integer):
            top = min(hi, max(lo, p.default)) if tiny else hi
            return st.integers(lo + (not p.inclusive_bounds[0]), top - (not p.inclusive_bounds[1]))
        return st.floats(lo, hi, exclude_min=not p.inclusive_bounds[0], exclude_max=not p.inclusive_bounds[1])
    return st.just(p.default)


def overrides(draw, cls, tiny: bool, n_max: int):
    """``(overrides, names given a bad value)`` for up to ``n_max`` parameters of ``cls``, and
    any of its choices (selectors, switches: the methods), so that combinations get tried."""
    params = {n: p for n, p in cls.param.objects("existing").items() if n not in ("name", "device")}
    chosen = draw(st.lists(st.sampled_from(sorted(params)), max_size=n_max, unique=True))
    choices = sorted(n for n, p in params.items() if isinstance(p, (param.Selector, param.Boolean)))
    out = {n: draw(inside_values(params[n], tiny)) for n in choices if n not in chosen and draw(st.booleans())}
    bad = set()
    for n in chosen:
        p = params[n]
        how = draw(st.sampled_from(["inside", "inside", "inside", "outside", "wrong"]))
        if how == "outside" and outside_values(p):
            out[n] = draw(st.sampled_from(outside_values(p)))
            bad.add(n)
        elif how == "wrong":
            out[n] = draw(st.sampled_from(wrong_values(p)))
            bad.add(n)
        elif n == "loss_weights":
            out[n] = draw(st.dictionaries(st.sampled_from(["pde", "ic", "bc", "data", "ics"]),
                                          st.floats(0, 10), max_size=2))
        elif n == "causal_eps":
            out[n] = sorted(set(draw(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=3))))
        else:
            out[n] = draw(inside_values(p, tiny))
    return out, bad


def assert_clean(err: ValueError, bad: set, owner) -> None:
    message = str(err)
    assert message and not INTERNALS.search(message), message
    if bad:  # a wrong value is refused first, by its own field's label
        assert isinstance(err, ConfigError) and err.parameter in bad, message
        assert label(owner.param[err.parameter]) in message, message


@st.composite
def cases(draw, tiny: bool, n_max: int):
    key = draw(st.sampled_from(sorted(PROBLEMS)))
    fitting = sorted(k for k, m in MODELS.items() if fits(PROBLEMS[key], m))
    kind = draw(st.sampled_from(fitting if tiny or draw(st.integers(0, 4)) else sorted(MODELS)))
    return (key, *overrides(draw, PROBLEMS[key], tiny, n_max), kind, *overrides(draw, MODELS[kind], tiny, n_max),
            *overrides(draw, TrainConfig, tiny, n_max))


@pytest.mark.bad_input("validation")
@given(cases(tiny=False, n_max=3))
def test_any_settings_are_refused_in_the_users_terms_or_accepted(tmp_path_factory, case):
    key, p_kw, p_bad, kind, m_kw, m_bad, t_kw, t_bad = case
    steps = [(lambda: get_problem(key, **p_kw), p_bad, PROBLEMS[key]),
             (lambda: get_model_config(kind, **m_kw), m_bad, MODELS[kind]),
             (lambda: TrainConfig(**{**TINY, **t_kw}), t_bad, TrainConfig)]
    made = []
    for make, bad, cls in steps:
        try:
            made.append(make())
        except ValueError as err:
            assert_clean(err, bad, cls)
            return
        assert not bad, f"{sorted(bad)} accepted in {cls.__name__}"
    try:
        Trainer(*made, runs_dir=tmp_path_factory.mktemp("runs"))  # checks sizes and fit, allocates nothing
    except ValueError as err:
        assert_clean(err, set(), None)


@pytest.fixture
def small_residual_map(monkeypatch):
    """A run's last snapshot maps the PDE residual on a subgrid of the reference's grid, of up to
    2**14 points; the same code maps 2**8 as well. At the full size one drawn case (decaying
    Navier-Stokes, whose vorticity residual takes third derivatives, by a PIG of 1000 Gaussians
    per channel) spent 158 of this test's 190 s there (2 cores)."""
    monkeypatch.setattr(pinn, "RESIDUAL_POINTS", 2**8)


@pytest.mark.usefixtures("small_residual_map")
@settings(max_examples=max(1, settings.default.max_examples // 10))  # each trains: a tenth as many
@given(cases(tiny=True, n_max=2))
def test_accepted_tiny_settings_train_a_step_without_a_traceback(tmp_path_factory, caplog, case):
    key, p_kw, _, kind, m_kw, _, t_kw, _ = case
    p_kw = dict(p_kw)
    # small sizes and short horizons keep each reference and dataset cheap
    for name, p in PROBLEMS[key].param.objects("existing").items():
        if name == "t_end" or (isinstance(p, param.Integer) and name in ("n", "resolution", "solve_resolution")):
            p_kw.setdefault(name, p.bounds[0])
    if PROBLEMS[key].kind == "operator":
        p_kw.update(n_train=2, n_val=1, batch_size=1)
    try:
        trainer = Trainer(get_problem(key, **p_kw), get_model_config(kind, **m_kw), TrainConfig(**{**TINY, **t_kw}),
                          runs_dir=tmp_path_factory.mktemp("runs"))
    except ValueError as err:  # a combination refused up front (e.g. FNO modes above a tiny grid)
        assert_clean(err, set(), None)
        return
    with caplog.at_level(logging.ERROR, logger="lab"):
        result = trainer.run()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert result.status == "completed" or not re.match(r"^\w+Error: ", result.message), result.message
