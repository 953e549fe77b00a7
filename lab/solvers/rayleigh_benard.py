"""2D Rayleigh–Bénard convection (Boussinesq) between free-slip isothermal walls, pseudo-spectral.

Layer ``0 <= z <= 1``, periodic in ``x`` with period ``Lx``, thermal-diffusion units (length
``H``, time ``H^2/kappa``, temperature ``Delta T``). With ``T = 1 - z + theta``, stream function
``psi`` (``u = psi_z``, ``w = -psi_x``) and vorticity ``omega = u_z - w_x = lap psi``:

    omega_t + u.grad omega = Pr lap omega - Pr Ra theta_x,
    theta_t + u.grad theta =    lap theta + w,

with ``psi = omega = theta = 0`` on ``z = 0, 1`` (impermeable, stress-free, isothermal). Every
field is then a sine series in ``z``, so the solver works on the odd extension to the periodic
box ``[0, Lx) x [0, 2)`` (full FFT in ``x``, real FFT in ``z``), keeps the state odd in ``z``
by projecting every nonlinear term, and de-aliases products with Orszag's 2/3 rule.

Time stepping: the linear part, diffusion *and* the buoyancy coupling (a 2x2 block per mode),
is diagonalised mode by mode and integrated exactly; the advective products go through
Lawson's integrating-factor RK4 (:mod:`lab.solvers.integrating_factor`). So a small perturbation
grows or decays at the exact linear rate whatever the step, the step is bounded by the
advective CFL number ``dt (max|u| kx_max + max|w| kz_max) <= 2.5`` only, and onset sits at the
linear-stability value ``Ra_c = 27 pi^4 / 4`` with wavenumber ``a_c = pi / sqrt(2)``
(Rayleigh 1916; Chandrasekhar, *Hydrodynamic and Hydromagnetic Stability*, 1961, ch. II).

Diagnostics (layer averages ``<.>``): kinetic energy ``E = <|u|^2>/2`` with
``dE/dt = Pr Ra <w theta> - Pr <omega^2>``, and the Nusselt number ``Nu = 1 + <w theta>``
(time-averaged; equal to the wall flux ``1 - <theta_z>|_{z=0}`` for steady rolls).
"""
from __future__ import annotations

import math

import torch

from lab.solvers.integrating_factor import CFL_LIMIT, advance_to, check_cfl, lawson_rk4
from lab.solvers.spectral import dealias_mask, fourier_interpolate, wavenumber_grid

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: critical Rayleigh number and wavenumber of free-slip walls (Rayleigh 1916)
RA_C = 27 * math.pi**4 / 4
A_C = math.pi / math.sqrt(2)
#: default bound on the share of theta^2 + |u|^2 in the outer third of the retained band
RESOLUTION_TOL = 1e-4
#: grid points across the boundary-layer scale Ra^(-1/3) below which a solve is refused
POINTS_PER_LAYER = 1.0


def growth_rate(ra: float, pr: float, a: float, n: int = 1) -> float:
    """Growth rate of the mode ``sin(n pi z) exp(i a x)`` of the conduction state.

    The larger root of ``s^2 + (1 + Pr) q^2 s + Pr q^4 - Pr Ra a^2 / q^2 = 0``,
    ``q^2 = a^2 + n^2 pi^2``; its discriminant is never negative, so onset is stationary and
    ``s = 0`` at ``Ra = q^6 / a^2`` (minimum ``27 pi^4 / 4`` at ``a = pi / sqrt 2``, ``n = 1``);
    ``Pr = inf``: ``s = -q^2 + Ra a^2 / q^4``.
    """
    q2 = a * a + (n * math.pi) ** 2
    if math.isinf(pr):
        return -q2 + ra * a * a / (q2 * q2)
    b, c = (1 + pr) * q2, pr * q2 * q2 - pr * ra * a * a / q2
    return 0.5 * (-b + math.sqrt(b * b - 4 * c))


class RayleighBenard2D:
    """The equations above on ``nx`` by ``nz + 1`` nodes (``z_j = j / nz``, walls included).

    The spectral state is ``(..., 2, nx, nz + 1)``: the real FFT over the odd extension of
    ``(omega, theta)``. ``aspect`` is the period ``Lx`` (default ``2 sqrt 2``: one pair of
    rolls at the critical wavenumber).
    """

    def __init__(self, nx: int, nz: int, *, ra: float, pr: float = 1.0, aspect: float = 2 * math.sqrt(2),
                 resolution_tol: float | None = RESOLUTION_TOL, max_dt: float = 0.02, device=None,
                 dtype=torch.float64):
        for name, value, low in (("nx", nx, 8), ("nz", nz, 8)):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value}")
        if not ra > 0:
            raise ValueError(f"Ra (Rayleigh number) must be positive, got {ra}")
        if not pr > 0:  # inf allowed: the infinite-Prandtl (Stokes) limit
            raise ValueError(f"Pr (Prandtl number) must be positive, got {pr}")
        if not aspect > 0:
            raise ValueError(f"aspect (period Lx) must be positive, got {aspect}")
        if not max_dt > 0:
            raise ValueError(f"max_dt must be positive, got {max_dt}")
        if resolution_tol is not None and not 0 < resolution_tol < 1:
            raise ValueError(f"resolution_tol must be in (0, 1) or None, got {resolution_tol}")
        need = math.ceil(POINTS_PER_LAYER * ra ** (1 / 3))
        if nz < need:
            raise ValueError(f"nz={nz} cannot resolve Ra={ra:g}: its boundary layers, about "
                             f"Ra^(-1/3) = {ra ** (-1 / 3):.3g} thick, need nz >= {need}; raise nz "
                             f"or lower Ra")
        self.nx, self.nz, self.ra, self.pr, self.lx = int(nx), int(nz), float(ra), float(pr), float(aspect)
        self.resolution_tol, self.max_dt = resolution_tol, float(max_dt)
        self.slaved = math.isinf(self.pr)
        self.device, self.dtype = torch.device(device or "cpu"), dtype
        self.shape = (self.nx, 2 * self.nz)  # the odd extension's grid
        self.dims = (-2, -1)
        kx, kz = wavenumber_grid(self.shape, (self.lx, 2.0), device=self.device, dtype=dtype)
        # no z-independent column: odd fields have none, and round-off there would feed the
        # spurious mode exp(i kx x) whose rate -kx^2 + Ra/kx^2 (Pr = inf) is far above any real one
        self.mask = dealias_mask(self.shape, device=self.device) & (kz != 0)
        self.ikx, self.ikz = 1j * kx, 1j * kz
        k2 = kx * kx + kz * kz
        self.inv_k2 = torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-30), torch.zeros_like(k2))
        self.k_max = [float((k.abs() * self.mask).max()) for k in (kx, kz)]
        m = [(kx * self.lx / (2 * math.pi)).abs(), (kz / math.pi).abs()]  # integer mode numbers
        cut = [float((md * self.mask).max()) for md in m]
        self.outer = self.mask & ((m[0] > 2 * cut[0] / 3) | (m[1] > 2 * cut[1] / 3))
        self._eigen(kx, k2)
        self._e_half: dict[float, torch.Tensor] = {}

    def _eigen(self, kx, k2):
        """Diagonalise the linear 2x2 block of each mode, ``L = V diag(lam) V^-1`` (float64).

        ``Pr = inf`` (the Stokes limit of mantle convection): ``omega = s theta`` with
        ``s = -Ra i kx / k^2`` at every instant, so ``V = [[1, s], [0, 1]]`` and the first
        eigen-coordinate, ``omega - s theta``, is removed at once (``lam_0 = -1e30``)."""
        c128 = torch.complex128
        kx, k2 = (t.to(torch.float64).expand(self.nx, self.nz + 1) for t in (kx, k2))
        inv = torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-30), torch.zeros_like(k2))
        if self.slaved:
            s = -1j * self.ra * kx * inv
            lam = torch.stack([torch.full_like(k2, -1e30), -k2 + self.ra * kx * kx * inv * inv], -1).to(c128)
            V = torch.zeros(self.nx, self.nz + 1, 2, 2, dtype=c128, device=kx.device)
            V[..., 0, 0] = V[..., 1, 1] = 1.0
            V[..., 0, 1] = s
        else:
            L = torch.zeros(self.nx, self.nz + 1, 2, 2, dtype=c128, device=kx.device)
            L[..., 0, 0] = -self.pr * k2
            L[..., 0, 1] = -1j * self.pr * self.ra * kx   # -Pr Ra theta_x
            L[..., 1, 0] = 1j * kx * inv                  # +w = -psi_x, psi = -omega / k^2
            L[..., 1, 1] = -k2
            lam, V = torch.linalg.eig(L)
        cd = c128 if self.dtype == torch.float64 else torch.complex64
        move = lambda t: t.permute(*range(2, t.ndim), 0, 1).to(device=self.device, dtype=cd)  # noqa: E731
        self.lam = lam.permute(2, 0, 1).to(device=self.device, dtype=cd)  # (2, nx, nz+1)
        #: fastest linear growth rate of a retained mode (0 below onset)
        self.growth_max = max(0.0, float((lam.real * self.mask.cpu()[..., None]).max()))
        self.V, self.V_inv = move(V), move(torch.linalg.inv(V))  # (2, 2, nx, nz+1)
        #: the eigen-coordinates the products feed: only theta's when omega is slaved
        self.fed = torch.tensor([0.0 if self.slaved else 1.0, 1.0], dtype=self.dtype,
                                device=self.device)[:, None, None]

    # ---- transforms -----------------------------------------------------------------------
    def extend(self, f: torch.Tensor) -> torch.Tensor:
        """Odd extension of wall-inclusive samples ``(..., nx, nz + 1)`` to ``(..., nx, 2 nz)``."""
        if tuple(f.shape[-2:]) != (self.nx, self.nz + 1):
            raise ValueError(f"fields must end with shape {(self.nx, self.nz + 1)}, got {tuple(f.shape)}")
        return torch.cat([f, -f[..., 1:-1].flip(-1)], dim=-1)

    def odd(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Projection onto fields odd in ``z``: ``F[p, m] <- (F[p, m] - conj F[-p, m]) / 2``."""
        return 0.5 * (f_hat - torch.roll(f_hat.flip(-2), 1, dims=-2).conj())

    def to_spectral(self, f: torch.Tensor) -> torch.Tensor:
        """Wall-inclusive physical ``(..., nx, nz + 1)`` -> masked, odd spectral state."""
        f = self.extend(f.to(device=self.device, dtype=self.dtype))
        return self.odd(torch.fft.rfftn(f, dim=self.dims) * self.mask)

    def to_physical(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Spectral -> wall-inclusive physical ``(..., nx, nz + 1)``."""
        return torch.fft.irfftn(f_hat, s=self.shape, dim=self.dims)[..., : self.nz + 1]

    def grid(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.arange(self.nx, device=self.device, dtype=self.dtype) * (self.lx / self.nx)
        z = torch.arange(self.nz + 1, device=self.device, dtype=self.dtype) / self.nz
        return x, z

    # ---- right-hand side ------------------------------------------------------------------
    def _apply(self, M: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.stack([M[0, 0] * v[..., 0, :, :] + M[0, 1] * v[..., 1, :, :],
                            M[1, 0] * v[..., 0, :, :] + M[1, 1] * v[..., 1, :, :]], dim=-3)

    def _full(self, f_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfftn(f_hat, s=self.shape, dim=self.dims)

    def nonlinear(self, v: torch.Tensor) -> torch.Tensor:
        """``-(u.grad omega, u.grad theta)`` in spectral space, de-aliased and odd in ``z``."""
        om, th = v[..., 0, :, :], v[..., 1, :, :]
        psi = -om * self.inv_k2
        f = self._full(torch.stack([self.ikz * psi, -self.ikx * psi, self.ikx * om, self.ikz * om,
                                    self.ikx * th, self.ikz * th], dim=-3))
        u, w, om_x, om_z, th_x, th_z = f.unbind(-3)
        n = -torch.stack([u * om_x + w * om_z, u * th_x + w * th_z], dim=-3)
        return self.odd(torch.fft.rfftn(n, dim=self.dims) * self.mask)

    def step(self, v: torch.Tensor, dt: float) -> torch.Tensor:
        """One step: Lawson RK4 in the eigen-coordinates of the linear blocks."""
        e = self._e_half.get(dt)
        if e is None:
            e = torch.exp(self.lam * (0.5 * dt))
            self._e_half = {dt: e}
        c = self._apply(self.V_inv, v)
        c = lawson_rk4(c, dt, lambda c: self.fed * self._apply(self.V_inv, self.nonlinear(self._apply(self.V, c))), e)
        return self._apply(self.V, c)

    # ---- fields and diagnostics -------------------------------------------------------------
    def velocity(self, v: torch.Tensor, full: bool = False) -> torch.Tensor:
        """``(u, w)``: ``(..., 2, nx, nz + 1)`` (``full``: on the odd extension's grid)."""
        psi = -v[..., 0, :, :] * self.inv_k2
        f = torch.stack([self.ikz * psi, -self.ikx * psi], dim=-3)
        return self._full(f) if full else self.to_physical(f)

    def all_fields(self, v: torch.Tensor) -> torch.Tensor:
        """Physical ``(theta, omega, psi, u, w)``: ``(..., 5, nx, nz + 1)``."""
        om, th = v[..., 0, :, :], v[..., 1, :, :]
        psi = -om * self.inv_k2
        return self.to_physical(torch.stack([th, om, psi, self.ikz * psi, -self.ikx * psi], dim=-3))

    def _mean(self, f: torch.Tensor) -> torch.Tensor:
        """Layer average of a product even in ``z`` (the extension's mean is the layer's)."""
        return f.mean(dim=self.dims)

    def energy(self, v: torch.Tensor) -> torch.Tensor:
        """``E = <u^2 + w^2> / 2``."""
        return 0.5 * self._mean(self.velocity(v, full=True).pow(2).sum(-3))

    def heat_flux(self, v: torch.Tensor) -> torch.Tensor:
        """Convective flux ``<w theta>``."""
        return self._mean(self.velocity(v, full=True)[..., 1, :, :] * self._full(v[..., 1, :, :]))

    def buoyancy_flux(self, v: torch.Tensor) -> torch.Tensor:
        """``Pr Ra <w theta>``: the rate buoyancy feeds kinetic energy."""
        return self.pr * self.ra * self.heat_flux(v)

    def dissipation(self, v: torch.Tensor) -> torch.Tensor:
        """``Pr <omega^2>`` (``= Pr <|grad u|^2>`` between free-slip walls)."""
        return self.pr * self._mean(self._full(v[..., 0, :, :]).pow(2))

    def nusselt(self, v: torch.Tensor) -> torch.Tensor:
        """``1 + <w theta>``."""
        return 1.0 + self.heat_flux(v)

    def wall_nusselt(self, v: torch.Tensor) -> torch.Tensor:
        """``1 - <theta_z>`` at the bottom wall ``z = 0`` (spectrally exact derivative)."""
        return 1.0 - self._full(self.ikz * v[..., 1, :, :])[..., 0].mean(-1)

    def tail_share(self, v: torch.Tensor) -> float:
        """Largest share over the batch of ``theta^2 + |u|^2`` in the outer third of the band."""
        spec = v[..., 1, :, :].abs() ** 2 + v[..., 0, :, :].abs() ** 2 * self.inv_k2
        total = spec.sum(dim=self.dims)
        return float(((spec * self.outer).sum(dim=self.dims) / total.clamp_min(1e-300)).max())

    # ---- time loop ------------------------------------------------------------------------
    def cfl_number(self, v: torch.Tensor, dt: float) -> float:
        vel = self.velocity(v, full=True)
        return dt * sum(float(vel[..., d, :, :].abs().max()) * k for d, k in enumerate(self.k_max))

    def check_dt(self, v: torch.Tensor, dt: float) -> None:
        """Raise ``ValueError`` naming ``dt`` when a step of ``dt`` would be unstable."""
        check_cfl(self.cfl_number(v, dt), dt)

    def max_stable_dt(self, v: torch.Tensor, cfl: float) -> float:
        """The automatic step: advective CFL ``cfl``, at most ``cfl`` e-folds of the fastest
        growing mode (the exact linear growth feeds the explicit products) and ``max_dt``."""
        c = self.cfl_number(v, 1.0) + self.growth_max
        return min(self.max_dt, cfl / c) if c > 0 else self.max_dt

    def check_resolution(self, v: torch.Tensor) -> None:
        """Raise ``ValueError`` naming ``nx``, ``nz`` and ``Ra`` when the spectrum of ``v`` reaches
        the cut-off (:meth:`tail_share` above ``resolution_tol``)."""
        share = 0.0 if self.resolution_tol is None else self.tail_share(v)
        if share > self.resolution_tol:
            raise ValueError(f"nx={self.nx}, nz={self.nz} are too small for Ra={self.ra:g}: {share:.2g} "
                             f"of theta^2 + |u|^2 sits in the outer third of the resolved band (allowed "
                             f"{self.resolution_tol:g}); raise nx and nz, or lower Ra")

    def solve(self, omega0: torch.Tensor, theta0: torch.Tensor, times, *, dt: float | None = None,
              cfl: float = 1.0, output: str = "all") -> torch.Tensor:
        """Fields at ``times`` from wall-inclusive ``omega0``, ``theta0`` ``(..., nx, nz + 1)``.

        ``output="all"``: ``(..., len(times), 5, nx, nz + 1)`` holding
        ``(theta, omega, psi, u, w)`` (:meth:`all_fields`); ``"spectral"``: the state
        ``(..., len(times), 2, nx, nz + 1)``.
        """
        outs = {"all": self.all_fields, "spectral": lambda v: v}
        if output not in outs:
            raise ValueError(f"output must be one of {sorted(outs)}, got {output!r}")
        if dt is not None and not dt > 0:
            raise ValueError(f"dt must be positive, got {dt}")
        if not 0 < cfl <= CFL_LIMIT:
            raise ValueError(f"cfl must be in (0, {CFL_LIMIT}], got {cfl}")
        for name, f in (("omega0", omega0), ("theta0", theta0)):
            if tuple(f.shape[-2:]) != (self.nx, self.nz + 1):
                raise ValueError(f"{name} must end with shape {(self.nx, self.nz + 1)}, got {tuple(f.shape)}")
        omega0, theta0 = torch.broadcast_tensors(omega0, theta0)
        v0 = self.to_spectral(torch.stack([omega0, theta0], dim=-3))
        def frame(v):
            self.check_resolution(v)
            return outs[output](v)

        frames = advance_to(v0, times, self.step, lambda v: self.max_stable_dt(v, cfl), frame, dt=dt,
                            check_dt=self.check_dt)
        return frames.movedim(0, omega0.ndim - 2)

    def interpolate(self, fields: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Spectral interpolation of wall-inclusive fields ``(..., nx, nz + 1)`` odd in ``z``
        (``theta``, ``omega``, ``psi``, ``w``) onto the tensor grid ``x`` by ``z``."""
        f = fourier_interpolate(self.extend(fields), z.to(fields), 2.0)
        return fourier_interpolate(f.transpose(-1, -2), x.to(fields), self.lx).transpose(-1, -2)


def roll_perturbation(nx: int, nz: int, amplitude: float, *, aspect: float = 2 * math.sqrt(2),
                      modes: int = 1, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``(omega0, theta0)`` at rest with ``theta0 = A sin(pi z) cos(2 pi modes x / Lx)``."""
    x = torch.arange(nx, dtype=dtype) * (aspect / nx)
    z = torch.arange(nz + 1, dtype=dtype) / nz
    X, Z = torch.meshgrid(x, z, indexing="ij")
    theta = amplitude * torch.sin(math.pi * Z) * torch.cos(2 * math.pi * modes * X / aspect)
    return torch.zeros_like(theta), theta
