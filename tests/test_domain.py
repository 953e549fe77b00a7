"""One Domain under both kinds of problem; an operator problem takes its dataset spec whole."""
from __future__ import annotations

import numpy as np
import pytest

from lab.data.datasets import BurgersData, DatasetSpec
from lab.problems import BaseProblem, Domain, PointwiseProblem, Problem, get_problem, list_problems
from lab.problems.operators import OperatorProblem, from_dataset


def test_a_periodic_axis_leaves_out_its_upper_end_and_a_bounded_one_keeps_it():
    d = Domain(("x", "t"), {"x": (0.0, 2.0), "t": (0.0, 1.0)}, periodic=("x",), grid_shape=(4, 3))
    g = d.grid()
    np.testing.assert_array_equal(g["x"], [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(g["t"], [0.0, 0.5, 1.0])
    assert (d.time, d.time_index, d.spatial_axes, d.boundary_axes()) == ("t", 1, ("x",), ())
    assert d.geometry is None


@pytest.mark.parametrize("kw, match", [
    ({"bounds": {"t": (0.0, 1.0), "x": (0.0, 1.0)}}, "each axis"),
    ({"bounds": {"x": (1.0, 1.0), "t": (0.0, 1.0)}}, "low < high"),
    ({"periodic": ("y",)}, "not among the axes"),
])
def test_an_inconsistent_domain_is_refused_when_made(kw, match):
    args = {"axes": ("x", "t"), "bounds": {"x": (0.0, 1.0), "t": (0.0, 1.0)}} | kw
    with pytest.raises(ValueError, match=match):
        Domain(**args)


def test_every_problem_has_one_domain_that_its_grid_and_time_axis_come_from(tmp_path):
    from test_external_data import pdebench_1d

    pdebench_1d(tmp_path / "waves.h5")  # an external problem's domain comes from its file
    for key, cls in list_problems().items():
        p = cls(path=str(tmp_path / "waves.h5")) if key == "external_operator" else cls()
        d = p.domain
        assert isinstance(p, BaseProblem), key
        assert d.axes == tuple(p.axes) and d.periodic == tuple(p.periodic), key
        assert list(d.bounds) == list(p.axes), key
        assert p.time_axis == d.time_index, key  # an int (or None) for every kind
        g = p.grid()
        assert [len(v) for v in g.values()] == list(p.grid_shape), key


def test_pointwise_and_operator_problems_share_the_base_and_problem_names_the_pointwise_one():
    assert Problem is PointwiseProblem
    assert isinstance(get_problem("burgers"), PointwiseProblem)
    op = get_problem("burgers_operator")
    assert isinstance(op, OperatorProblem) and not isinstance(op, PointwiseProblem)
    assert not op.has_reference() and not hasattr(op, "residual")


def test_an_operator_problem_shows_its_dataset_parameters_as_the_spec_declares_them():
    """Once declared, in the spec: the same bounds and docs (a problem may narrow a range)."""
    for key, cls in list_problems().items():
        if cls.kind != "operator":
            continue
        p = cls()
        shared = [n for n in p.param if n in cls.dataset_spec.param and n != "name"]
        assert {"seed", "solver_batch"} <= set(shared), key
        spec = p.spec()
        assert isinstance(spec, cls.dataset_spec) and spec.n_samples == p.n_train + p.n_val, key
        for n in shared:
            mine, theirs = p.param[n], cls.dataset_spec.param[n]
            assert getattr(spec, n) == getattr(p, n), (key, n)
            assert mine.doc == theirs.doc, (key, n)
            lo, hi = mine.bounds
            assert theirs.bounds[0] <= lo and hi <= theirs.bounds[1], (key, n)
    # the viscosity once had bounds of its own, disagreeing with the data's
    assert get_problem("burgers_operator").param["nu"].bounds == BurgersData.param["nu"].bounds
    assert get_problem("burgers_operator", nu=5e-4).spec().nu == 5e-4


def test_a_space_time_map_steps_through_its_frame_axis_and_indexes_time_like_any_problem():
    p = get_problem("ns2d_spacetime_operator")
    assert p.frame_axis == "t" and p.time_axis == 2 and p.snapshot_axes == ("x", "y")
    burgers = get_problem("burgers_spacetime_operator")
    assert burgers.frame_axis is None and burgers.time_axis == 1
    assert burgers.snapshot_axes == ("x", "t")


def test_a_problem_cannot_widen_a_dataset_parameter_beyond_the_spec():
    with pytest.raises(ValueError, match="must lie inside BurgersData"):
        from_dataset(BurgersData, "nu", bounds=(1e-6, 10.0))
    assert from_dataset(DatasetSpec, "seed", default=3).default == 3
    assert DatasetSpec.param["seed"].default == 0  # the spec's own declaration is untouched


def test_a_user_problem_declaring_its_box_as_a_dict_gets_the_same_domain():
    from lab.problems.custom import CustomProblem, Dirichlet

    class Rod(CustomProblem):
        key, axes = "rod_for_domain_test", ("x", "t")
        domain = {"x": (0.0, 2.0), "t": (0.0, 1.0)}
        boundary = {"x": Dirichlet(0.0)}

    p = Rod()
    assert isinstance(p.domain, Domain) and p.domain.bounds == {"x": (0.0, 2.0), "t": (0.0, 1.0)}
    assert p.domain.boundary_axes() == ("x",) and p.grid((3, 2))["x"].tolist() == [0.0, 1.0, 2.0]


def test_an_operator_problem_declaring_its_frame_axis_the_old_way_keeps_time_an_index():
    class Frames(OperatorProblem):
        key, axes, time_axis = "frames_for_domain_test", ("x", "t"), "t"

    assert Frames.frame_axis == "t"
    assert Frames.__dict__.get("time_axis") is None  # the base's index property shows through
