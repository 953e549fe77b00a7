"""Incompressible Navier–Stokes: 2D vorticity on a periodic square, 3D velocity in a periodic box.

References come from the pseudo-spectral solvers of :mod:`lab.solvers.navier_stokes` in
float64 on the CPU, stepped exactly to the requested times and evaluated at the requested
points by trigonometric (spectral) interpolation, so they are accurate on any grid. Initial
fields are band-limited and defined independently of the solver resolution ``n``: refining
``n`` converges to one solution.
"""
from __future__ import annotations

import math

import numpy as np
import param
import torch

from lab.limits import Need, capped_bytes, check_needs
from lab.problems import register
from lab.problems.base import Problem
from lab.solvers.grf import grf
from lab.solvers.navier_stokes import (NavierStokes2D, NavierStokes3D, fno_forcing,
                                       isotropic_turbulence, kolmogorov_forcing, taylor_green_3d)
from lab.solvers.spectral import dealias_mask, fourier_interpolate, fourier_interpolate_points

F64 = torch.float64


def _unique_times(t):
    ts, inverse = np.unique(np.asarray(t, dtype=np.float64), return_inverse=True)
    return ts, inverse


def _interpolate(fields: torch.Tensor, grid: dict, axes: tuple[str, ...], length: float):
    """Trigonometric interpolation of ``(..., n, ..., n)`` onto the tensor grid of ``axes``."""
    d = len(axes)
    for i, ax in enumerate(axes):
        dim = fields.ndim - d + i
        fields = fourier_interpolate(fields.movedim(dim, -1), torch.as_tensor(grid[ax], dtype=F64),
                                     length).movedim(-1, dim)
    return fields


def _compact(field: torch.Tensor, ndim: int, length: float) -> torch.Tensor:
    """Resample a 2/3-band-limited field onto the smallest grid that holds it exactly.

    The band of an ``n``-grid is ``|m| <= ceil(n/3) - 1``; an odd grid of ``2K + 1`` points
    represents it without loss, and point evaluation costs scale with its size.
    """
    n = field.shape[-1]
    m = 2 * (math.ceil(n / 3) - 1) + 1
    x = torch.arange(m, dtype=F64) * (length / m)
    axes = ("x", "y", "z")[:ndim]
    return _interpolate(field, {a: x for a in axes}, axes, length)


def _band_limit(field: torch.Tensor, ndim: int) -> torch.Tensor:
    """Apply the 2/3-rule mask of the field's own grid: the initial field the problem defines."""
    dims = tuple(range(-ndim, 0))
    shape = field.shape[-ndim:]
    return torch.fft.irfftn(torch.fft.rfftn(field, dim=dims) * dealias_mask(shape), s=shape, dim=dims)


def _solve_need(problem: Problem, working_arrays: int, ndim: int) -> Need:
    """The reference solve's float64 working arrays and saved frames on the ``n^d`` grid, as
    :meth:`lab.solvers.navier_stokes.check_memory` counts them, before any is allocated."""
    frames = problem.grid_shape[-1] * (ndim + 1)
    return Need((working_arrays + frames) * problem.n**ndim * 8, "the reference solve", problem, ("n",),
                cap="max_memory_gb")


def _reference_params(n: int, bounds: tuple[int, int],
                      doc: str = "Reference pseudo-spectral grid per axis"):
    """The ``n``, ``dt`` and ``max_memory_gb`` parameters of a pseudo-spectral reference (new
    instances for each class): ``n, dt, max_memory_gb = _reference_params(...)``."""
    return (param.Integer(n, bounds=bounds, doc=doc),
            param.Number(None, allow_None=True, bounds=(1e-6, 10.0),
                         doc="Reference time step; None = automatic (CFL 1)"),
            param.Number(2.0, bounds=(0.01, 1024.0), label="Max memory (GB)",
                         doc="Refuse reference solves estimated to need more memory (GB of "
                             "2^30 bytes; never more than the machine holds)"))


class _NavierStokes2D(Problem):
    """``w_t + u.grad w = nu lap w - mu w + f``, ``w = v_x - u_y``, ``u_x + v_y = 0``, periodic.

    The network predicts the velocity ``(u, v)``; the residual is the vorticity equation
    (third derivatives of the velocity) plus continuity, as in Wang et al.'s causal PINNs
    (CMAME 2024) for flows on a torus. Subclasses fix the domain, forcing and initial field.
    """

    kind = "2d+t"
    axes = ("x", "y", "t")
    outputs = ("u", "v")
    periodic = ("x", "y")
    grid_shape = (64, 64, 11)
    #: side of the periodic square
    length = 1.0
    #: the initial vorticity is band-limited to the 2/3 band of this grid (independent of ``n``)
    ic_grid = 64

    nu = param.Number(1e-3, bounds=(1e-5, 10.0), doc="Kinematic viscosity ν")
    drag = param.Number(0.0, bounds=(0.0, 10.0), doc="Linear drag μ (Rayleigh friction)")
    forcing = param.Selector(default="none", objects=["none", "fno", "kolmogorov"],
                             doc="Vorticity forcing: none, FNO's 0.1(sin 2π(x+y) + cos 2π(x+y)) "
                                 "(unit box) or Kolmogorov's curl of sin(k y) e_x")
    forcing_wavenumber = param.Integer(4, bounds=(1, 32), doc="Kolmogorov forcing wavenumber k")
    t_end = param.Number(10.0, bounds=(0.01, 100.0), doc="Final time T")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the random initial vorticity")
    n, dt, max_memory_gb = _reference_params(128, (64, 2048))

    def bounds(self):
        return {"x": (0.0, self.length), "y": (0.0, self.length), "t": (0.0, self.t_end)}

    def initial_vorticity(self) -> torch.Tensor:
        """Initial vorticity on the ``ic_grid`` (band-limited: exact on any finer grid)."""
        raise NotImplementedError

    def forcing_field(self, n: int) -> torch.Tensor | None:
        if self.forcing == "none":
            return None
        if self.forcing == "fno":  # sampled at x_j / L = j / n, the same values on any box
            return fno_forcing(n, dtype=F64)
        return kolmogorov_forcing(n, wavenumber=self.forcing_wavenumber, length=self.length,
                                  dtype=F64)

    def forcing_at(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The vorticity forcing at points, in the coordinates of this domain."""
        if self.forcing == "none":
            return torch.zeros_like(x)
        if self.forcing == "fno":
            s = 2 * math.pi * (x + y) / self.length
            return 0.1 * (torch.sin(s) + torch.cos(s))
        kk = 2 * math.pi * self.forcing_wavenumber / self.length
        return -kk * torch.cos(kk * y)

    def solver(self) -> NavierStokes2D:
        check_needs(self.memory_needs())  # in the user's terms, before the solver's own check
        return NavierStokes2D(self.n, nu=self.nu, length=self.length, drag=self.drag,
                              forcing=self.forcing_field(self.n),
                              max_bytes=capped_bytes(self.max_memory_gb), dtype=F64)

    def _initial_on(self, n: int) -> torch.Tensor:
        w = self.initial_vorticity()
        x = torch.arange(n, dtype=F64) * (self.length / n)
        return _interpolate(w, {"x": x, "y": x}, ("x", "y"), self.length)

    def memory_needs(self):
        return super().memory_needs() + [_solve_need(self, NavierStokes2D.working_arrays, 2)]

    def solve(self, times, output: str = "velocity") -> torch.Tensor:
        """Solver-grid fields at ``times``: ``(T, 2, n, n)`` velocity or ``(T, n, n)`` vorticity."""
        ns = self.solver()
        return ns.solve(self._initial_on(self.n), list(times), dt=self.dt, output=output)

    def residual(self, f):
        u, v = f(0), f(1)
        w_t = f.d("x", "t", out=1) - f.d("y", "t", out=0)
        w_x = f.d("x", "x", out=1) - f.d("y", "x", out=0)
        w_y = f.d("x", "y", out=1) - f.d("y", "y", out=0)
        lap_w = (f.d("x", "x", "x", out=1) + f.d("x", "y", "y", out=1)
                 - f.d("y", "x", "x", out=0) - f.d("y", "y", "y", out=0))
        w = f.d("x", out=1) - f.d("y", out=0)
        forcing = self.forcing_at(f.coord("x").detach(), f.coord("y").detach())
        r_w = w_t + u * w_x + v * w_y - self.nu * lap_w + self.drag * w - forcing
        return torch.stack([r_w, f.d("x", out=0) + f.d("y", out=1)], dim=1)

    def _initial_velocity_compact(self) -> torch.Tensor:
        """The initial velocity ``(2, m, m)`` on the smallest grid that holds it exactly."""
        ns = NavierStokes2D(self.ic_grid, nu=self.nu, length=self.length, dtype=F64)
        return _compact(ns.velocity(ns.to_spectral(self.initial_vorticity())), 2, self.length)

    def initial_condition(self, X):
        vel = self.on_device("initial_velocity", self._initial_velocity_compact, X.device)
        vals = fourier_interpolate_points(vel, X[:, :2].detach().to(F64), self.length)
        return vals.transpose(0, 1).to(X)

    def vorticity(self, grid) -> np.ndarray:
        """Vorticity on a tensor grid ``(nx, ny, nt)`` (not cached; for display)."""
        ts, inverse = _unique_times(grid["t"])
        w = _interpolate(self.solve(ts, output="vorticity"), grid, ("x", "y"), self.length)
        return w.permute(1, 2, 0).numpy()[:, :, inverse]

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        vel = _interpolate(self.solve(ts), grid, ("x", "y"), self.length)  # (T, 2, nx, ny)
        return vel.permute(2, 3, 0, 1).numpy()[:, :, inverse, :]


@register
class NavierStokes2DDecaying(_NavierStokes2D):
    """Decaying 2D turbulence from a random vorticity field on the unit torus.

    ``w_0 ~ N(0, 7^3 (-lap + 49)^(-2.5))``, the FNO paper's initial measure (Li et al. 2021),
    band-limited to the 2/3 band of a 64^2 grid; ``nu = 1e-3``, unforced. With
    ``forcing="fno"`` and ``t_end = 50`` this is the FNO Navier–Stokes data set's setting.
    """

    key = "ns2d_decaying"
    title = "Navier–Stokes 2D: decaying turbulence"
    latex = (r"\omega_t + \mathbf{u}\cdot\nabla\omega = \nu\Delta\omega,\ "
             r"\omega_0\sim\mathcal N(0, 7^{3}(-\Delta+49)^{-2.5}),\ (x,y)\in\mathbb T^2")
    description = ("Random vortices merge and decay on a periodic square: the inverse cascade "
                   "of 2D turbulence, as in the FNO benchmark.")
    source = ("Li et al., Fourier Neural Operator for Parametric PDEs, ICLR 2021; McWilliams, "
              "J. Fluid Mech. 146 (1984)")

    alpha = param.Number(2.5, bounds=(1.0, 5.0), doc="GRF smoothness exponent α of ω₀")
    tau = param.Number(7.0, bounds=(0.1, 50.0), doc="GRF inverse length scale τ of ω₀")

    def initial_vorticity(self):
        g = torch.Generator().manual_seed(self.seed)
        w = grf((self.ic_grid, self.ic_grid), self.alpha, self.tau, 1, g, lengths=self.length)[0]
        return _band_limit(w, 2)


@register
class NavierStokes2DKolmogorov(_NavierStokes2D):
    """Kolmogorov flow: body force ``sin(4y) e_x`` with drag ``0.1`` on ``[0, 2 pi)^2``, ``nu = 1e-3``.

    The setting of Kochkov et al. (PNAS 2021), Re = 1000. The initial vorticity is a random
    field ``N(0, sigma^2 (-lap + tau^2)^(-alpha))`` with ``tau = 3`` (in units of the box
    wavenumber), band-limited to a 64^2 grid and scaled to unit RMS. At the default ``n = 128``,
    ``T = 1`` the reference differs from ``n = 512`` by 2e-3 (relative L2); the forced flow
    intensifies (by ``T = 5`` that error is 8%), so longer horizons need larger ``n``.
    """

    key = "ns2d_kolmogorov"
    title = "Navier–Stokes 2D: Kolmogorov flow"
    latex = (r"\omega_t + \mathbf{u}\cdot\nabla\omega = \nu\Delta\omega - \mu\omega - k\cos(ky),"
             r"\ (x,y)\in[0,2\pi)^2")
    description = ("A sinusoidal shear forcing drives the flow, linear drag removes energy at "
                   "large scales: forced 2D turbulence, the standard learned-solver benchmark.")
    source = "Kochkov et al., Machine learning-accelerated computational fluid dynamics, PNAS 118 (2021)"
    length = 2 * math.pi

    forcing = param.Selector(default="kolmogorov", objects=["none", "fno", "kolmogorov"],
                             doc="Vorticity forcing: none, FNO's or Kolmogorov's curl of sin(k y) e_x")
    drag = param.Number(0.1, bounds=(0.0, 10.0), doc="Linear drag μ (Rayleigh friction)")
    t_end = param.Number(1.0, bounds=(0.01, 100.0), doc="Final time T")
    alpha = param.Number(2.5, bounds=(1.0, 5.0), doc="GRF smoothness exponent α of ω₀")
    tau = param.Number(3.0, bounds=(0.1, 50.0), doc="GRF inverse length scale τ of ω₀")
    amplitude = param.Number(1.0, bounds=(0.0, 100.0), doc="RMS vorticity of ω₀")

    def initial_vorticity(self):
        g = torch.Generator().manual_seed(self.seed)
        w = grf((self.ic_grid, self.ic_grid), self.alpha, self.tau, 1, g, lengths=self.length)[0]
        w = _band_limit(w, 2)
        return w * (self.amplitude / w.pow(2).mean().sqrt())


class _NavierStokes3D(Problem):
    """``u_t + u.grad u = -grad p + nu lap u + div(2 nu_t S)``, ``div u = 0`` in ``[0, 2pi)^3``.

    Outputs ``(u, v, w, p)``; the residual is the three momentum equations and continuity.
    With ``cs > 0`` both the reference and the residual carry the Smagorinsky eddy viscosity
    ``nu_t = (C_s Delta)^2 |S|``, ``Delta = 2 pi / n`` (an LES of the flow on the ``n^3``
    grid; the residual's ``div(2 nu_t S)`` is differentiated exactly by autograd).
    """

    kind = "3d+t"
    axes = ("x", "y", "z", "t")
    outputs = ("u", "v", "w", "p")
    periodic = ("x", "y", "z")
    grid_shape = (32, 32, 32, 5)
    length = 2 * math.pi

    nu = param.Number(1 / 1600, bounds=(1e-5, 10.0), doc="Kinematic viscosity ν")
    cs = param.Number(0.0, bounds=(0.0, 1.0), doc="Smagorinsky constant C_s (0: no closure)")
    t_end = param.Number(2.0, bounds=(0.01, 50.0), doc="Final time T")
    n, dt, max_memory_gb = _reference_params(32, (16, 1024))

    def bounds(self):
        L = self.length
        return {"x": (0.0, L), "y": (0.0, L), "z": (0.0, L), "t": (0.0, self.t_end)}

    def initial_velocity_grid(self, n: int) -> torch.Tensor:
        """Initial velocity ``(3, n, n, n)`` on the uniform ``n^3`` grid."""
        raise NotImplementedError

    def solver(self) -> NavierStokes3D:
        check_needs(self.memory_needs())  # in the user's terms, before the solver's own check
        return NavierStokes3D(self.n, nu=self.nu, cs=self.cs, max_bytes=capped_bytes(self.max_memory_gb),
                              dtype=F64)

    def memory_needs(self):
        working = 84 if self.cs > 0 else NavierStokes3D.working_arrays  # as NavierStokes3D sets it
        return super().memory_needs() + [_solve_need(self, working, 3)]

    def solve(self, times) -> torch.Tensor:
        """Solver-grid ``(u, v, w, p)`` at ``times``: ``(T, 4, n, n, n)``."""
        ns = self.solver()
        return ns.solve(self.initial_velocity_grid(self.n), list(times), dt=self.dt,
                        output="velocity_pressure")

    def residual(self, f):
        ax = ("x", "y", "z")
        g = [[f.d(ax[j], out=i) for j in range(3)] for i in range(3)]
        div = g[0][0] + g[1][1] + g[2][2]
        res = []
        nu_t = grad_nu_t = s = None
        if self.cs > 0:
            s = [[0.5 * (g[i][j] + g[j][i]) for j in range(3)] for i in range(3)]
            s_norm = torch.sqrt(2 * sum(s[i][j] ** 2 for i in range(3) for j in range(3)) + 1e-30)
            nu_t = (self.cs * self.length / self.n) ** 2 * s_norm
            grad_nu_t = torch.autograd.grad(nu_t.sum(), f.X, create_graph=True)[0]
        for i in range(3):
            lap = sum(f.d(ax[j], ax[j], out=i) for j in range(3))
            r = f.d("t", out=i) + sum(f(j) * g[i][j] for j in range(3)) + f.d(ax[i], out=3) \
                - self.nu * lap
            if nu_t is not None:
                # div(2 nu_t S)_i = 2 S_ij d_j nu_t + nu_t (lap u_i + d_i div u)
                d_i_div = sum(f.d(ax[j], ax[i], out=j) for j in range(3))
                r = r - 2 * sum(s[i][j] * grad_nu_t[:, j] for j in range(3)) \
                    - nu_t * (lap + d_i_div)
            res.append(r)
        res.append(div)
        return torch.stack(res, dim=1)

    def initial_condition(self, X):
        """Initial ``(u, v, w)``; the pressure is not prescribed (see :meth:`losses`)."""
        raise NotImplementedError

    def losses(self, model, batch, engine="auto"):
        out = super().losses(model, {k: v for k, v in batch.items() if k != "ic"}, engine)
        if "ic" in batch:
            out["ic"] = (model(batch["ic"])[:, :3] - self.initial_condition(batch["ic"])).pow(2).mean()
        return out

    def _reference(self, grid):
        ts, inverse = _unique_times(grid["t"])
        fields = _interpolate(self.solve(ts), grid, ("x", "y", "z"), self.length)
        return fields.permute(2, 3, 4, 0, 1).numpy()[:, :, :, inverse, :]


@register
class TaylorGreen3D(_NavierStokes3D):
    """Taylor–Green vortex, Re = 1600: the standard transition-to-turbulence benchmark.

    ``u_0 = (sin x cos y cos z, -cos x sin y cos z, 0)``, ``nu = 1/1600``. The default preview
    (``n = 32``, ``T = 1``) resolves the early, laminar stage where vortex sheets first
    steepen (relative L2 difference 1e-4 against ``n = 128``; 2e-3 at ``T = 1.5``); the
    dissipation peak at ``t ~ 9`` needs ``n >= 256`` (or ``cs > 0``).
    """

    key = "ns3d_taylor_green"
    title = "Navier–Stokes 3D: Taylor–Green vortex"
    latex = (r"\mathbf u_t + \mathbf u\cdot\nabla\mathbf u = -\nabla p + \nu\Delta\mathbf u,\ "
             r"\nabla\cdot\mathbf u = 0,\ \mathbf u_0 = (\sin x\cos y\cos z, -\cos x\sin y\cos z, 0)")
    description = ("A single, smooth, symmetric vortex array that stretches into ever thinner "
                   "sheets and breaks down into turbulence.")
    source = ("Taylor & Green, Proc. R. Soc. A 158 (1937); Brachet et al., J. Fluid Mech. 130 "
              "(1983)")

    t_end = param.Number(1.0, bounds=(0.01, 50.0), doc="Final time T")

    def initial_velocity_grid(self, n):
        return taylor_green_3d(n, dtype=F64)

    def initial_condition(self, X):
        x, y, z = X[:, 0], X[:, 1], X[:, 2]
        return torch.stack([torch.sin(x) * torch.cos(y) * torch.cos(z),
                            -torch.cos(x) * torch.sin(y) * torch.cos(z), torch.zeros_like(x)], dim=1)


@register
class IsotropicTurbulence3D(_NavierStokes3D):
    """Decaying homogeneous isotropic turbulence, as a coarse LES by default.

    Random solenoidal initial velocity with ``E(k) ~ k^4 exp(-2 (k/k0)^2)``, ``k0 = 3``,
    ``0.5 <|u|^2> = 0.5`` (:func:`lab.solvers.navier_stokes.isotropic_turbulence`, drawn on a
    32^3 grid and band-limited there, so independent of ``n``), ``nu = 1e-3`` and the
    Smagorinsky closure ``C_s = 0.17`` (Lilly 1967) on the coarse default grid. The reference
    is that LES, whose filter is the grid (``Delta = 2 pi / n``): it is a model solution, not
    a grid-converged one (at ``T = 1`` it differs by 16% from the same model solved on 128^3
    with the filter width held at ``2 pi / 32``). For a resolved DNS set ``cs = 0`` with
    enough ``n`` for the chosen ``nu``.
    """

    key = "ns3d_isotropic"
    title = "Navier–Stokes 3D: decaying isotropic turbulence"
    latex = (r"\mathbf u_t + \mathbf u\cdot\nabla\mathbf u = -\nabla p + \nabla\cdot"
             r"\left[2(\nu + (C_s\Delta)^2|S|)S\right],\ E_0(k)\propto k^4 e^{-2(k/k_0)^2}")
    description = ("Random eddies with a prescribed spectrum cascade energy to small scales "
                   "and decay; a Smagorinsky closure stands in for the unresolved scales.")
    source = ("Rogallo, NASA TM 81315 (1981); Smagorinsky, Mon. Weather Rev. 91 (1963); "
              "Lilly, IBM Sci. Comput. Symp. (1967)")
    ic_grid = 32

    n = param.Integer(32, bounds=(32, 1024), doc="Reference pseudo-spectral grid per axis "
                                                  "(>= 32: the initial field lives on 32^3)")
    nu = param.Number(1e-3, bounds=(1e-5, 10.0), doc="Kinematic viscosity ν")
    cs = param.Number(0.17, bounds=(0.0, 1.0), doc="Smagorinsky constant C_s (0: no closure)")
    t_end = param.Number(1.0, bounds=(0.01, 50.0), doc="Final time T")
    k0 = param.Number(3.0, bounds=(1.0, 10.0), doc="Peak wavenumber k0 of the initial spectrum")
    energy = param.Number(0.5, bounds=(1e-4, 100.0), doc="Initial kinetic energy 0.5<|u|²>")
    seed = param.Integer(0, bounds=(0, 2**31 - 1), doc="Seed of the random initial field")

    def _initial_ic_grid(self):
        g = torch.Generator().manual_seed(self.seed)
        return isotropic_turbulence(self.ic_grid, k0=self.k0, energy=self.energy, generator=g,
                                    dtype=F64)[0]

    def initial_velocity_grid(self, n):
        x = torch.arange(n, dtype=F64) * (self.length / n)
        return _interpolate(self._initial_ic_grid(), {"x": x, "y": x, "z": x}, ("x", "y", "z"),
                            self.length)

    def initial_condition(self, X):
        u0 = self.on_device("initial_velocity", lambda: _compact(self._initial_ic_grid(), 3, self.length),
                            X.device)
        vals = fourier_interpolate_points(u0, X[:, :3].detach().to(F64), self.length)
        return vals.transpose(0, 1).to(X)
