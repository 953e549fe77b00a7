"""Loss landscapes: exact paraboloids, filter normalisation, PCA of a path, vmap == loop."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev, vmap

from lab.autodiff import Fields
from lab.diagnostics.landscape import (flat_parameters, landscape_1d, landscape_2d, loss_grid,
                                       pca_directions, random_directions)

F64 = torch.float64


def quadratic_setup():
    torch.manual_seed(0)  # nn.Linear's init draws from the global generator; values are irrelevant
    model = nn.Linear(3, 2).double()
    g = torch.Generator().manual_seed(1)
    P = flat_parameters(model).numel()
    B = torch.randn(P, P, generator=g, dtype=F64)
    A = B @ B.T + torch.eye(P, dtype=F64)
    theta0 = torch.randn(P, generator=g, dtype=F64)
    names = [n for n, _ in model.named_parameters()]

    def quad(theta):
        r = theta - theta0
        return 0.5 * r @ A @ r + 2.0

    def closure(m):
        return quad(torch.cat([p.reshape(-1) for p in m.parameters()]))

    def functional(params):
        return quad(torch.cat([params[n].reshape(-1) for n in names]))

    return model, A, theta0, closure, functional


@pytest.mark.parametrize("mode", ["loop", "vmap", "functional-loop"])
def test_quadratic_loss_gives_exact_paraboloid(mode):
    model, A, theta0, closure, functional = quadratic_setup()
    g = torch.Generator().manual_seed(2)
    d1, d2 = random_directions(model, 2, g)
    alphas = torch.linspace(-1, 1, 7, dtype=F64)
    betas = torch.linspace(-0.5, 2, 5, dtype=F64)
    kw = {"loop": dict(), "vmap": dict(functional=True), "functional-loop":
          dict(functional=True, vectorize=False)}[mode]
    before = flat_parameters(model)
    land = landscape_2d(model, closure if mode == "loop" else functional, d1, d2, alphas, betas, **kw)
    assert land.path == ("vmap" if mode == "vmap" else "loop")
    assert torch.equal(flat_parameters(model), before)  # parameters restored
    delta = before - theta0
    a, b = alphas[:, None], betas[None, :]
    exact = (2.0 + 0.5 * delta @ A @ delta + a * (d1 @ A @ delta) + b * (d2 @ A @ delta)
             + 0.5 * a ** 2 * (d1 @ A @ d1) + a * b * (d1 @ A @ d2) + 0.5 * b ** 2 * (d2 @ A @ d2))
    assert land.values.shape == (7, 5)
    assert torch.allclose(land.values, exact, rtol=1e-13, atol=0)
    line = landscape_1d(model, closure, d1, alphas)
    exact_line = 2.0 + 0.5 * delta @ A @ delta + alphas * (d1 @ A @ delta) + 0.5 * alphas ** 2 * (d1 @ A @ d1)
    assert torch.allclose(line.values, exact_line, rtol=1e-13, atol=0)


def test_filter_normalisation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    d = random_directions(model, 3, torch.Generator().manual_seed(5))
    again = random_directions(model, 3, torch.Generator().manual_seed(5))
    assert torch.equal(d, again) and d.shape == (3, flat_parameters(model).numel())
    offset = 0
    for p in model.parameters():
        block = d[:, offset:offset + p.numel()].reshape(3, *p.shape)
        offset += p.numel()
        if p.ndim == 1:
            assert (block == 0).all()
        else:
            assert torch.allclose(block.norm(dim=-1), p.detach().norm(dim=-1).expand(3, -1), rtol=1e-13)
    raw = random_directions(model, 1, torch.Generator().manual_seed(5), filter_normalize=False)
    assert raw.abs().sum() > 0 and not torch.allclose(raw[0], d[0])


def test_pca_of_a_planar_path():
    g = torch.Generator().manual_seed(3)
    P, T = 50, 30
    uv, _ = torch.linalg.qr(torch.randn(P, 2, generator=g, dtype=F64))
    t = torch.linspace(0, 1, T, dtype=F64)
    ab = torch.stack([3 * (1 - t) * torch.cos(5 * t), 0.5 * torch.sin(7 * t)], 1)
    ab = ab - ab[-1]
    final = torch.randn(P, generator=g, dtype=F64)
    pca = pca_directions(final + ab @ uv.T)
    assert torch.allclose(pca.directions @ pca.directions.T, torch.eye(2, dtype=F64), atol=1e-12)
    # the directions span the plane of the path ...
    assert torch.allclose((pca.directions @ uv).det().abs(), torch.tensor(1.0, dtype=F64), atol=1e-12)
    # ... carry all its variance, and the coordinates rebuild it exactly
    assert pca.explained.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert torch.allclose(pca.coords @ pca.directions, ab @ uv.T, atol=1e-12)
    assert torch.equal(pca.center, final)


def burgers_setup():
    """A 2-16-16-1 tanh net and the Burgers residual u_t + u u_x - nu u_xx at 48 points."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                        nn.Linear(16, 1)).double()
    X = torch.rand(48, 2, generator=torch.Generator().manual_seed(4), dtype=F64) * 2 - 1
    nu = 0.01 / torch.pi

    def closure(model):  # reverse-mode autograd.grad on the inputs: does not vmap
        f = Fields(model, X, ("x", "t"))
        return (f.d("t") + f() * f.d("x") - nu * f.d("x", "x")).square().mean()

    def functional(params):  # torch.func form of the same loss: vmaps over parameter sets
        u = lambda x: functional_call(net, params, (x[None],))[0, 0]  # noqa: E731
        val, grad, hess = vmap(u)(X), vmap(jacrev(u))(X), vmap(hessian(u))(X)
        return (grad[:, 1] + val * grad[:, 0] - nu * hess[:, 0, 0]).square().mean()

    return net, closure, functional


def test_pinn_residual_landscape_vmap_matches_autograd_loop():
    net, closure, functional = burgers_setup()
    d1, d2 = random_directions(net, 2, torch.Generator().manual_seed(6))
    alphas = torch.linspace(-1, 1, 5, dtype=F64)
    loop = landscape_2d(net, closure, d1, d2, alphas, alphas)
    fast = landscape_2d(net, functional, d1, d2, alphas, alphas, functional=True, chunk_size=7)
    assert (loop.path, fast.path, fast.chunk_size) == ("loop", "vmap", 7)
    assert torch.allclose(loop.values, fast.values, rtol=1e-10, atol=0)
    assert loop.values[2, 2] == closure(net).detach()  # the centre is the trained model


def test_memory_budget_is_enforced():
    net, _, functional = burgers_setup()
    d = random_directions(net, 2, torch.Generator().manual_seed(6))
    coords = torch.zeros(100, 2, dtype=F64)
    with pytest.raises(ValueError, match="one landscape point needs .* memory_budget"):
        loss_grid(net, functional, d, coords, functional=True, memory_budget=10_000)
    values, path, chunk, nbytes = loss_grid(net, functional, d, coords, functional=True,
                                            memory_budget=8 * 2 ** 20)
    assert path == "vmap" and 1 <= chunk < 100 and nbytes <= 8 * 2 ** 20
    with pytest.raises(ValueError, match="chunk_size=100 needs"):
        loss_grid(net, functional, d, coords, functional=True, chunk_size=100,
                  memory_budget=8 * 2 ** 20)
    with pytest.raises(ValueError, match="directions must be"):
        loss_grid(net, functional, d[:, :-1], coords, functional=True)
