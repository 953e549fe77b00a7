"""One neural operator on a family of domains (lab.data.geometric, lab.problems.geometry_operators)."""
import numpy as np
import pytest
import torch

from lab import TrainConfig, Trainer
from lab.config import ConfigError
from lab.data.geometric import PlateHoleData
from lab.geometry import PlateWithHole
from lab.models import get_model_config
from lab.problems import get_problem
from lab.solvers.fem import plate_with_hole_heat, plate_with_hole_mesh
from lab.training.events import Snapshot
from lab.training.tasks.operator import OperatorTask

SMALL = dict(n_train=6, n_val=2, batch_size=2, resolution=17, mesh_layers=8)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small data set (the cache is private to this module's tests)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCIML_LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        p = get_problem("plate_hole_operator", **SMALL)
        return p, p.arrays()


def test_each_sample_is_the_fem_solution_at_the_grid_points_inside_its_domain(small):
    """Grid values against skfem's own evaluation of a fresh solve on the sample's mesh (not
    the lab's probe): equal to float32 storage; the hole's wall at T, the edges at 0."""
    p, a = small
    g = np.linspace(-1, 1, p.resolution)
    X, Y = np.meshgrid(g, g, indexing="ij")
    holes = a["hole"]
    assert len({tuple(h) for h in holes.round(6)}) == len(holes)  # every sample its own domain
    for i in (0, len(holes) - 1):
        cx, cy, r = (float(v) for v in holes[i])
        assert p.radius_min <= r <= p.radius_max and max(abs(cx), abs(cy)) <= p.center_max
        basis, u = plate_with_hole_heat(r, p.mesh_layers, p.t_hole, p.q, center=(cx, cy))
        inside = np.argwhere(a["x"][i, 1] > 0.5)
        pick = inside[np.random.default_rng(i).choice(len(inside), 12, replace=False)]
        pts = np.stack([X[tuple(pick.T)], Y[tuple(pick.T)]])
        direct = basis.probes(pts) @ u
        assert np.abs(a["y"][i, 0][tuple(pick.T)] - direct).max() < 1e-5
        assert np.abs(a["y"][i, 0][[0, -1], :]).max() < 1e-6 and np.abs(a["y"][i, 0][:, [0, -1]]).max() < 1e-6
    # a fine mesh puts the wall's nodes at T: the field near the hole approaches T
    mesh = plate_with_hole_mesh(0.3, 8, center=(0.2, -0.1))
    hole = mesh.p[:, mesh.boundary_nodes()][:, np.hypot(*(mesh.p[:, mesh.boundary_nodes()]
                                                          - np.array([[0.2], [-0.1]]))) < 0.31]
    assert hole.shape[1] == 64 and np.allclose(np.hypot(hole[0] - 0.2, hole[1] + 0.1), 0.3)


def test_the_mask_is_the_signed_distance_functions_closed_domain_and_the_field_is_zero_outside(small):
    p, a = small
    g = torch.linspace(-1, 1, p.resolution, dtype=torch.float64)
    pts = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    for i, (cx, cy, r) in enumerate(a["hole"].astype(np.float64)):
        sdf = PlateWithHole((cx, cy), r).sdf(pts).numpy().reshape(p.shape)
        assert np.abs(a["x"][i, 0] - sdf).max() < 1e-5
        clear = np.abs(sdf) > 1e-5  # away from the boundary (the stored hole is rounded to float32)
        assert np.array_equal(a["x"][i, 1][clear] > 0.5, sdf[clear] <= 0)
        assert set(np.unique(a["x"][i, 1])) == {0.0, 1.0}
        assert (a["y"][i, 0][a["x"][i, 1] == 0] == 0).all() and (a["x"][i, 1] == 0).any()


class _Oracle(torch.nn.Module):
    """Returns the true field inside each sample's domain and garbage in its hole."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.w = x, y, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        idx = torch.cdist(x.flatten(1), self.x.flatten(1)).argmin(1)
        garbage = 1e3 * torch.randn(self.y[idx].shape, generator=torch.Generator().manual_seed(0))
        return self.y[idx] + (1 - x[:, 1:2]) * garbage + 0 * self.w


def test_points_outside_the_domain_count_for_nothing_in_loss_and_error(small):
    p, _ = small
    data = p.datasets()
    xs, ys = (torch.cat([data["train"][k], data["val"][k]]) for k in ("x", "y"))
    task = OperatorTask(p, _Oracle(xs, ys), TrainConfig(steps=1, device="cpu"), device=torch.device("cpu"),
                        dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    assert float(task.loss_terms(0)["data"].detach()) < 1e-6
    grid, fields, rel, extras = task.evaluate()
    assert rel < 1e-6 and extras["trivial_rel_l2"] > 0.05
    assert np.abs(fields["error"]).max() < 1e-6 and np.abs(fields["prediction"]).max() < 10
    # without the mask the same model is far off: the hook is what removes the garbage
    with torch.no_grad():
        assert float(torch.linalg.vector_norm(_Oracle(xs, ys)(xs) - ys)) > 100


def test_problems_without_a_mask_score_every_point():
    assert get_problem("darcy_operator", n_train=2, n_val=1, batch_size=1).output_mask(torch.ones(1, 1, 3, 3)) is None


@pytest.mark.parametrize("kw,name", [(dict(radius_max=0.7), "radius_max"),
                                     (dict(center_max=0.6, radius_max=0.35), "radius_max"),
                                     (dict(radius_min=0.3, radius_max=0.2), "radius_min")])
def test_hole_ranges_that_do_not_fit_are_refused_by_name(kw, name):
    for make in (lambda: get_problem("plate_hole_operator", **kw), lambda: PlateHoleData(**kw)):
        with pytest.raises(ConfigError) as err:
            make()
        assert err.value.parameter == name and name.split("_")[0] in str(err.value).lower()
    p = get_problem("plate_hole_operator")
    with pytest.raises(ConfigError, match="exceeds 1"):
        p.radius_max = 0.65  # 0.3 + 0.65 + 0.1 > 1


def test_a_hole_outside_the_plate_is_refused():
    with pytest.raises(ValueError, match="inside the plate"):
        plate_with_hole_mesh(0.4, 4, center=(0.7, 0.0))
    with pytest.raises(ValueError, match="inside the plate"):
        PlateWithHole((0.0, -0.8), 0.3)


def test_a_short_fno_run_beats_the_mean_predictor(tmp_path):
    problem = get_problem("plate_hole_operator", n_train=32, n_val=8, batch_size=8, resolution=17,
                          mesh_layers=8)
    snaps = []
    result = Trainer(problem, get_model_config("fno", modes=6, width=16, n_layers=3, projection_channels=16),
                     TrainConfig(steps=150, lr=5e-3, snapshot_every=150, device="cpu"), runs_dir=tmp_path,
                     sinks=[lambda e: snaps.append(e) if isinstance(e, Snapshot) else None]).run()
    assert result.status == "completed", result.message
    trivial = snaps[-1].extras["trivial_rel_l2"]
    assert np.isfinite(result.rel_l2) and result.rel_l2 < 0.5 * trivial, (result.rel_l2, trivial)  # measured 0.07 vs 0.41
    assert snaps[-1].fields["prediction"].shape == (17, 17)


def test_the_off_centre_mesh_converges_at_second_order():
    """``u = e^x sin y`` (harmonic) as Dirichlet data on both boundaries of a plate whose hole sits
    near a corner: the P1 error in L2 falls by about 4 when the layers double."""
    from lab.solvers.fem import l2_error, poisson

    def exact(x):
        return np.exp(x[0]) * np.sin(x[1])

    errs = []
    for n in (8, 16):
        mesh = plate_with_hole_mesh(0.3, n, center=(0.35, -0.4))
        basis, u = poisson(mesh, lambda x: 0 * x[0], {"hole": exact, "outer": exact})
        errs.append(l2_error(basis, u, exact))
    assert 3.3 < errs[0] / errs[1] < 4.8, errs
