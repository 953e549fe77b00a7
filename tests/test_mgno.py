"""MgNO: shapes over 1-3 dimensions and odd/even grids, gradients to every weight, a V-cycle that
is the multigrid iteration it claims, and training on the lab's Darcy data."""
import pytest
import torch

from lab.models.mgno import MgNO, VCycle


@pytest.mark.parametrize("ndim, shape", [(1, (33,)), (1, (32,)), (2, (17, 16)), (3, (9, 8, 8))])
def test_shapes_on_any_grid_and_every_weight_gets_a_gradient(ndim, shape):
    torch.manual_seed(0)
    model = MgNO(2, 3, ndim, width=6, n_layers=2, levels=3, projection_channels=8)
    x = torch.randn(2, 2, *shape)
    out = model(x)
    assert out.shape == (2, 3, *shape)
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    finer = tuple(2 * n - 1 for n in shape)
    assert model(torch.randn(1, 2, *finer)).shape == (1, 3, *finer)


def test_a_single_level_cycle_is_damped_jacobi_on_its_stencil():
    """With A the 1D Laplacian stencil and S = ω/2 δ, k pre-smoothing steps and the post-smoothing
    step are k + 1 damped Jacobi sweeps from zero."""
    n, k, omega = 31, 3, 2 / 3
    cycle = VCycle(1, 1, levels=1, smoothing=k, periodic=(False,)).double()
    with torch.no_grad():
        cycle.A[0].weight.copy_(torch.tensor([[[-1.0, 2.0, -1.0]]]))
        cycle.S[0].weight.copy_(torch.tensor([[[0.0, omega / 2, 0.0]]], dtype=torch.float64))
    f = torch.randn(1, 1, n, dtype=torch.float64)
    L = 2 * torch.eye(n, dtype=torch.float64) - torch.diag(torch.ones(n - 1, dtype=torch.float64), 1) \
        - torch.diag(torch.ones(n - 1, dtype=torch.float64), -1)
    u = torch.zeros(n, dtype=torch.float64)
    for _ in range(k + 1):
        u = u + omega / 2 * (f[0, 0] - L @ u)
    torch.testing.assert_close(cycle(f)[0, 0], u, rtol=1e-14, atol=1e-14)


def test_coarse_levels_carry_information_across_the_whole_domain():
    """A point source moves the output far beyond the fine stencil's reach only through the coarse levels."""
    torch.manual_seed(1)
    f = torch.zeros(1, 4, 64)
    f[..., 5] = 1.0
    deep = VCycle(4, 1, levels=5, smoothing=1, periodic=(False,))
    shallow = VCycle(4, 1, levels=1, smoothing=1, periodic=(False,))
    with torch.no_grad():
        shallow.A[0].weight.copy_(deep.A[0].weight)
        shallow.S[0].weight.copy_(deep.S[0].weight)
    assert shallow(f)[..., 40:].abs().max() == 0       # two sweeps reach 2 cells
    assert deep(f)[..., 40:].abs().max() > 0


@pytest.mark.slow
def test_mgno_learns_the_darcy_operator_better_than_the_mean():
    from lab.models import get_model_config
    from lab.problems import get_problem
    from lab.training import TrainConfig, Trainer

    problem = get_problem("darcy_operator", resolution=17, solve_resolution=33, n_train=32, n_val=8,
                          batch_size=8)
    model = get_model_config("mgno", width=12, n_layers=2, levels=3, projection_channels=32)
    snaps = []
    result = Trainer(problem, model, TrainConfig(steps=300, lr=3e-3, lr_schedule="cosine", snapshot_every=300,
                                                 checkpoint_every=10_000),
                     sinks=[lambda e: snaps.append(e) if hasattr(e, "extras") and hasattr(e, "rel_l2") else None],
                     runs_dir=None).run()
    assert result.status == "completed", result.message
    assert result.rel_l2 < snaps[-1].extras["trivial_rel_l2"]  # better than the training mean


def test_initial_weights_come_from_the_given_generator_only():
    from lab.models import get_model_config
    from lab.problems import get_problem

    problem = get_problem("darcy_operator", resolution=9, n_train=4, n_val=2, batch_size=2)
    cfg = get_model_config("mgno", width=4, n_layers=1, levels=2, projection_channels=4)
    before = torch.random.get_rng_state()
    a = cfg.build(problem, generator=torch.Generator().manual_seed(3))
    b = cfg.build(problem, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
