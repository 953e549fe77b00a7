"""Time-dependent 2D problems of the PIG / SPINN suite, and Gray–Scott patterns.

Klein–Gordon and flow mixing have closed-form solutions; nonlinear diffusion and Gray–Scott
are referenced by the verified solvers in :mod:`lab.solvers`.
"""
from __future__ import annotations


import numpy as np
import param
import torch
from scipy.interpolate import RectBivariateSpline

from lab.autodiff import Fields
from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.nonlinear_diffusion import porous_medium_fd
from lab.solvers.reaction_diffusion2d import GrayScott
from lab.solvers.spectral import fourier_interpolate


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def _unique_times(t: np.ndarray):
    """Sorted distinct times and the index of each requested time into them."""
    ts, inverse = np.unique(np.asarray(t, dtype=np.float64), return_inverse=True)
    return ts, inverse


@register
class KleinGordon2D(Problem):
    """``u_tt - lap u + u^2 = f`` on ``[-1, 1]^2 x [0, 10]`` (SPINN / PIG (2+1)-d benchmark).

    Manufactured solution ``u = (x + y) cos(k t) + x y sin(k t)``: both spatial factors are
    harmonic, so ``f = u^2 - k^2 u``; ``k = 2`` in the PIG code (Kang et al. 2025), after
    Cho et al. (NeurIPS 2023). Initial data ``u = x + y``, ``u_t = k x y``; Dirichlet data from
    ``u``. (The 1D Klein–Gordon of Wang et al. uses ``u = x cos(5 pi t) + (x t)^3``.)
    """

    key = "klein_gordon2d"
    kind = "2d+t"
    title = "Klein–Gordon 2D"
    latex = (r"u_{tt} - \Delta u + u^2 = f,\quad u = (x+y)\cos(kt) + xy\sin(kt),"
             r"\ (x,y,t)\in[-1,1]^2\times[0,10]")
    description = ("Nonlinear wave equation with a manufactured solution oscillating in time; "
                   "second order in time, so it needs both u and u_t at t = 0.")
    source = ("Cho et al., Separable Physics-Informed Neural Networks, NeurIPS 2023; "
              "Kang et al., PIG, ICLR 2025")
    axes = ("x", "y", "t")
    outputs = ("u",)
    grid_shape = (51, 51, 51)

    k = param.Number(2.0, bounds=(0.1, 20.0), doc="Angular frequency k of the solution")
    t_end = param.Number(10.0, bounds=(0.1, 20.0), doc="Final time T")

    def bounds(self):
        return {"x": (-1.0, 1.0), "y": (-1.0, 1.0), "t": (0.0, self.t_end)}

    def exact(self, x, y, t):
        lib = _lib(x)
        return (x + y) * lib.cos(self.k * t) + x * y * lib.sin(self.k * t)

    def residual(self, f):
        x, y, t = f.coord("x"), f.coord("y"), f.coord("t")
        ue = self.exact(x, y, t)
        rhs = ue * ue - self.k**2 * ue
        return f.d("t", "t") - f.d("x", "x") - f.d("y", "y") + f() ** 2 - rhs

    def initial_condition(self, X):
        return (X[:, 0] + X[:, 1])[:, None]

    def initial_velocity(self, X):
        """``u_t(x, y, 0) = k x y``."""
        return (self.k * X[:, 0] * X[:, 1])[:, None]

    def boundary_value(self, X):
        return self.exact(X[:, 0], X[:, 1], X[:, 2])[:, None]

    def loss_names(self):
        return super().loss_names() + ("ic_t",)

    def losses(self, model, batch, engine="auto"):
        out = super().losses(model, batch, engine)
        if "ic" in batch:
            ut = Fields(model, batch["ic"], self.axes).d("t")
            out["ic_t"] = (ut[:, None] - self.initial_velocity(batch["ic"])).pow(2).mean()
        return out

    def _reference(self, grid):
        X, Y, T = np.meshgrid(grid["x"], grid["y"], grid["t"], indexing="ij")
        return self.exact(X, Y, T)


@register
class FlowMixing2D(Problem):
    """``u_t + a u_x + b u_y = 0``: a front wound up by a swirling vortex (exact solution).

    ``(a, b) = omega(r) (-y, x)`` with ``omega = v_t / (r v_max)``, ``v_t = sech^2(r) tanh(r)``,
    ``v_max = 0.385``: each circle rotates rigidly, so the initial front ``-tanh(y/2)`` becomes
    ``u = -tanh(y/2 cos(omega t) - x/2 sin(omega t))``. Domain ``[-4, 4]^2 x [0, 4]`` as in
    SPINN / PIG; Dirichlet data from the exact solution.
    """

    key = "flow_mixing2d"
    kind = "2d+t"
    title = "Flow mixing 2D"
    latex = (r"u_t + a u_x + b u_y = 0,\ (a,b) = \frac{v_t}{v_{max} r}(-y, x),\ "
             r"v_t = \operatorname{sech}^2 r \tanh r")
    description = ("A vortex winds a smooth front into an ever-tighter spiral: steep, "
                   "multi-scale structure from a linear advection equation.")
    source = ("Cho et al., Separable Physics-Informed Neural Networks, NeurIPS 2023; "
              "Kang et al., PIG, ICLR 2025")
    axes = ("x", "y", "t")
    outputs = ("u",)
    grid_shape = (101, 101, 41)

    v_max = param.Number(0.385, bounds=(0.05, 10.0), doc="Velocity normalisation v_max")
    t_end = param.Number(4.0, bounds=(0.1, 10.0), doc="Final time T")

    def bounds(self):
        return {"x": (-4.0, 4.0), "y": (-4.0, 4.0), "t": (0.0, self.t_end)}

    def angular_velocity(self, x, y):
        """``omega(r) = sech^2(r) tanh(r) / (r v_max)``, its series near ``r = 0``.

        Written with a double ``where`` so that autograd stays finite at the vortex centre.
        """
        lib = _lib(x)
        r2 = x * x + y * y
        small = r2 < 1e-12
        r = lib.sqrt(lib.where(small, lib.ones_like(r2), r2))
        far = lib.tanh(r) / r / lib.cosh(r) ** 2
        return lib.where(small, (1 - r2 / 3) * (1 - r2), far) / self.v_max

    def exact(self, x, y, t):
        lib = _lib(x)
        w = self.angular_velocity(x, y)
        return -lib.tanh(0.5 * y * lib.cos(w * t) - 0.5 * x * lib.sin(w * t))

    def residual(self, f):
        x, y = f.coord("x"), f.coord("y")
        w = self.angular_velocity(x.detach(), y.detach())
        return f.d("t") - w * y.detach() * f.d("x") + w * x.detach() * f.d("y")

    def initial_condition(self, X):
        return -torch.tanh(0.5 * X[:, 1:2])

    def boundary_value(self, X):
        return self.exact(X[:, 0], X[:, 1], X[:, 2])[:, None]

    def _reference(self, grid):
        X, Y, T = np.meshgrid(grid["x"], grid["y"], grid["t"], indexing="ij")
        return self.exact(X, Y, T)


@register
class NonlinearDiffusion2D(Problem):
    """``u_t = alpha (|grad u|^2 + u lap u)`` on ``[-1, 1]^2 x [0, 1]``, ``u = 0`` on the boundary.

    The PIG / SPINN "(2+1)-d diffusion" benchmark, ``alpha = 0.05``, initial data three
    Gaussians (the PIG code's coefficients). No closed form: the reference is the conservative
    second-order finite-difference / RK4 solution of ``u_t = (alpha/2) lap(u^2)``
    (:func:`lab.solvers.nonlinear_diffusion.porous_medium_fd`) on ``n`` x ``n`` cells,
    interpolated to the requested points by bicubic splines. Second order (measured in the
    tests); at ``t = 1`` the ``n = 128`` and ``n = 256`` solutions differ by 2.3e-4 (relative
    L2), so the default ``n = 256`` is accurate to about 8e-5.
    """

    key = "nonlinear_diffusion2d"
    kind = "2d+t"
    title = "Nonlinear diffusion 2D"
    latex = r"u_t = \alpha\,(|\nabla u|^2 + u\,\Delta u),\ (x,y,t)\in[-1,1]^2\times[0,1],\ u|_{\partial\Omega} = 0"
    description = ("Porous-medium-type diffusion: the diffusivity grows with u itself, so the "
                   "three initial bumps spread at different rates.")
    source = ("Cho et al., Separable Physics-Informed Neural Networks, NeurIPS 2023; "
              "Kang et al., PIG, ICLR 2025")
    axes = ("x", "y", "t")
    outputs = ("u",)
    grid_shape = (101, 101, 21)

    alpha = param.Number(0.05, bounds=(1e-3, 1.0), doc="Diffusion coefficient α")
    t_end = param.Number(1.0, bounds=(0.01, 5.0), doc="Final time T")
    n = param.Integer(256, bounds=(16, 1024), doc="Reference finite-difference cells per axis")

    def bounds(self):
        return {"x": (-1.0, 1.0), "y": (-1.0, 1.0), "t": (0.0, self.t_end)}

    @staticmethod
    def initial_value(x, y):
        lib = _lib(x)
        return (0.25 * lib.exp(-((x - 0.3) ** 2 + (y - 0.2) ** 2) / 0.1)
                + 0.4 * lib.exp(-((x + 0.5) ** 2 + (y + 0.1) ** 2) * 15)
                + 0.3 * lib.exp(-(x**2 + (y + 0.5) ** 2) * 20))

    def residual(self, f):
        u = f()
        return f.d("t") - self.alpha * (f.d("x") ** 2 + f.d("y") ** 2
                                        + u * (f.d("x", "x") + f.d("y", "y")))

    def initial_condition(self, X):
        return self.initial_value(X[:, 0], X[:, 1])[:, None]

    def solve(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Nodes ``x`` and the finite-difference solution ``(len(times), n+1, n+1)``."""
        nodes = np.linspace(-1.0, 1.0, self.n + 1)
        X, Y = np.meshgrid(nodes, nodes, indexing="ij")
        u0 = torch.from_numpy(self.initial_value(X, Y))
        return nodes, porous_medium_fd(u0, self.alpha, list(times), length=2.0).numpy()

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        nodes, u = self.solve(ts)
        out = np.empty((len(grid["x"]), len(grid["y"]), len(ts)))
        for i in range(len(ts)):
            spline = RectBivariateSpline(nodes, nodes, u[i], kx=3, ky=3)
            out[:, :, i] = spline(np.clip(grid["x"], -1, 1), np.clip(grid["y"], -1, 1), grid=True)
        return out[:, :, inverse]


@register
class GrayScott2D(Problem):
    """Gray–Scott reaction–diffusion on the periodic square ``[-1, 1)^2``, ``t in [0, 400]``.

    ``u_t = D_u lap u - u v^2 + F (1 - u)``, ``v_t = D_v lap v + u v^2 - (F + k) v``. Rates
    ``F = 0.04``, ``F + k = 0.1`` and the offset-Gaussian initial data follow the PINNacle
    Gray–Scott task (Hao et al., NeurIPS 2024 D&B); the diffusivities ``1e-4``, ``5e-5``
    (Pearson's 2:1 ratio) are ten times PINNacle's so that the default ``n = 128`` grid
    resolves the fronts (measured max difference 1e-3 against ``n = 160``). The spot grows
    into a ring that starts to split. Reference: pseudo-spectral integrating-factor RK4
    (:class:`lab.solvers.reaction_diffusion2d.GrayScott`), Fourier-interpolated in space.
    """

    key = "gray_scott2d"
    kind = "2d+t"
    title = "Gray–Scott 2D"
    latex = (r"u_t = D_u\Delta u - uv^2 + F(1-u),\quad v_t = D_v\Delta v + uv^2 - (F+k)v")
    description = ("Two reacting, diffusing chemicals: a single spot of v grows, rings and "
                   "splits — the simplest route to Turing-like patterns.")
    source = ("Pearson, Science 261 (1993); Hao et al., PINNacle, NeurIPS 2024 Datasets and "
              "Benchmarks")
    axes = ("x", "y", "t")
    outputs = ("u", "v")
    periodic = ("x", "y")
    grid_shape = (128, 128, 21)

    du = param.Number(1e-4, bounds=(1e-7, 1e-1), doc="Diffusivity D_u of u")
    dv = param.Number(5e-5, bounds=(1e-7, 1e-1), doc="Diffusivity D_v of v")
    feed = param.Number(0.04, bounds=(0.0, 0.2), doc="Feed rate F")
    kill = param.Number(0.06, bounds=(0.0, 0.2), doc="Kill rate k")
    t_end = param.Number(400.0, bounds=(1.0, 5000.0), doc="Final time T")
    n = param.Integer(128, bounds=(16, 1024), doc="Reference pseudo-spectral grid per axis")
    dt = param.Number(1.0, bounds=(1e-4, 10.0), doc="Reference time step")

    def bounds(self):
        return {"x": (-1.0, 1.0), "y": (-1.0, 1.0), "t": (0.0, self.t_end)}

    @staticmethod
    def initial_value(x, y):
        lib = _lib(x)
        u = 1 - lib.exp(-80 * ((x + 0.05) ** 2 + (y + 0.02) ** 2))
        v = lib.exp(-80 * ((x - 0.05) ** 2 + (y - 0.02) ** 2))
        return u, v

    def residual(self, f):
        u, v = f(0), f(1)
        uvv = u * v * v
        ru = f.d("t", out=0) - self.du * (f.d("x", "x", out=0) + f.d("y", "y", out=0)) \
            + uvv - self.feed * (1 - u)
        rv = f.d("t", out=1) - self.dv * (f.d("x", "x", out=1) + f.d("y", "y", out=1)) \
            - uvv + (self.feed + self.kill) * v
        return torch.stack([ru, rv], dim=1)

    def initial_condition(self, X):
        return torch.stack(self.initial_value(X[:, 0], X[:, 1]), dim=1)

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        gs = GrayScott(self.n, du=self.du, dv=self.dv, feed=self.feed, kill=self.kill, length=2.0)
        x = -1.0 + 2.0 * torch.arange(self.n, dtype=torch.float64) / self.n
        X, Y = torch.meshgrid(x, x, indexing="ij")
        s = gs.solve(torch.stack(self.initial_value(X, Y)), ts, dt=self.dt)  # (T, 2, n, n)
        s = fourier_interpolate(s, torch.as_tensor(grid["y"]), 2.0, -1.0)
        s = fourier_interpolate(s.transpose(-1, -2), torch.as_tensor(grid["x"]), 2.0, -1.0)
        s = s.transpose(-1, -2).numpy()  # (T, 2, nx, ny)
        return np.transpose(s, (2, 3, 0, 1))[:, :, inverse, :]
