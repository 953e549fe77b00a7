"""Pseudo-spectral incompressible Navier–Stokes on periodic boxes, 2D (vorticity) and 3D (velocity).

Both solvers keep the state as real-FFT coefficients, evaluate products in physical space and
de-alias them with Orszag's 2/3 rule (:func:`lab.solvers.spectral.dealias_mask`), and step in
time with Lawson's integrating-factor RK4 (:mod:`lab.solvers.integrating_factor`): viscosity
(and linear drag) is integrated exactly, so the step is limited only by advection,

    C = dt * sum_d max|u_d| * k_max,d  <=  2.5   (RK4 is stable on the imaginary axis to 2.83),

with ``k_max`` the largest retained wavenumber. Without ``dt`` the step follows ``C = cfl``
(default 1); a user ``dt`` that breaks the bound raises ``ValueError`` naming ``dt``.
Everything is torch and device-agnostic, batched over leading dimensions (many initial
conditions at once); run float64 for references, float32 for speed on a GPU.

``fused`` picks how a step runs: ``"off"`` the reference code below; ``"eager"``, ``"compile"``
or ``"graphs"`` the same arithmetic fused into few kernels (:mod:`lab.solvers.ns_fused`), run
eagerly, compiled by ``torch.compile``, or compiled and replayed as CUDA graphs. ``"auto"``
(the default) compiles on CUDA, where the step is memory bound and fusion pays, for states large
enough to repay the compile (``AUTO_COMPILE_MIN``), and keeps the reference elsewhere:
compiling costs a CPU user a minute, and eagerly the fused arithmetic saves little on a CPU,
whose FFTs dominate the step.

2D, on ``[0, L)^2``:  ``w_t + u . grad w = nu lap w - mu w + f``, ``u = (psi_y, -psi_x)``,
``lap psi = -w`` (Kochkov et al. 2021 and the FNO data, Li et al. 2021, use this form).

3D, on ``[0, L)^3``, rotational form with pressure projection (Canuto et al., *Spectral
Methods*, 2006, sec. 3.3):  ``u_t = P[u x w + div(2 nu_t S) + f] + nu lap u``,
``P = I - k k^T/|k|^2``, optional Smagorinsky closure ``nu_t = (C_s Delta)^2 |S|``,
``|S| = sqrt(2 S_ij S_ij)``, ``Delta = L/n`` (Smagorinsky 1963; Lilly's ``C_s ~ 0.17``).
"""
from __future__ import annotations

import importlib.util
import math

import torch

from lab.solvers import ns_fused
from lab.solvers.integrating_factor import CFL_LIMIT, advance_to, check_cfl, lawson_rk4
from lab.solvers.spectral import dealias_mask, wavenumber_grid

#: the numbers this module returns: bump on a change that alters them, so references
#: cached under the old value are recomputed (:func:`lab.solvers.versions`)
VERSION = "1"

#: diffusive bound for the explicit eddy viscosity (RK4 real-axis limit is 2.785)
DIFFUSIVE_LIMIT = 2.5
#: default memory cap of a solve (bytes); problems pass their own, smaller limit
DEFAULT_MAX_BYTES = 16 * 2**30


def _complex(dtype):
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _check_positive_int(name, n, low):
    if int(n) != n or n < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {n}")


#: smallest state (complex numbers, batch included) that ``fused="auto"`` compiles for: below it
#: a step takes microseconds and the one-off compile (tens of seconds) would not pay back
AUTO_COMPILE_MIN = 2**20


def default_fused(device: torch.device) -> str:
    """What ``fused="auto"`` means on ``device``: compiled on CUDA (with Triton), else the reference.

    Compiled only for states of at least :data:`AUTO_COMPILE_MIN` numbers; smaller ones take
    the reference step.
    """
    if device.type == "cuda" and importlib.util.find_spec("triton") is not None:
        return "compile"
    return "off"


class _PeriodicNS:
    """Shared set-up: wavenumbers, de-aliasing, the integrating factor and the time loop."""

    ndim = 0
    #: arrays of ``n^d`` reals alive during one step per batch member (see ``estimate_bytes``)
    working_arrays = 0
    #: the fused step of this equation (:mod:`lab.solvers.ns_fused`); None: reference only
    fused_step = None

    def __init__(self, n, *, nu, length, max_bytes, device, dtype, fused="off"):
        _check_positive_int("n", n, 8)
        if not nu >= 0:
            raise ValueError(f"nu (viscosity) must be >= 0, got {nu}")
        if not length > 0:
            raise ValueError(f"length must be positive, got {length}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.n, self.nu, self.length = int(n), float(nu), float(length)
        self.max_bytes = float(max_bytes)
        self.device, self.dtype = torch.device(device or "cpu"), dtype
        allowed = ("auto",) + (ns_fused.MODES if self.fused_step is not None else ("off",))
        if fused not in allowed:
            raise ValueError(f"fused must be one of {allowed}, got {fused!r}")
        #: whether a small state takes the reference step (``"auto"`` chose to compile)
        self._small_off = fused == "auto"
        if fused == "auto":
            fused = "off" if self.fused_step is None else default_fused(self.device)
        self.fused = fused
        if self.fused == "graphs" and self.device.type != "cuda":
            raise ValueError(f"fused='graphs' needs a CUDA device, got device={self.device}")
        self.shape = (self.n,) * self.ndim
        self.dims = tuple(range(-self.ndim, 0))
        self.check_memory(1)  # before allocating the wavenumber arrays
        self.k = wavenumber_grid(self.shape, self.length, device=self.device, dtype=dtype)
        self.k2 = sum(k * k for k in self.k)
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1e-30), torch.zeros_like(self.k2))
        self.mask = dealias_mask(self.shape, device=self.device)
        #: ``i k`` with the Nyquist mode removed by the mask (odd derivatives, the lab convention)
        self.ik = tuple(1j * k for k in self.k)
        #: largest retained wavenumber along each axis
        self.k_max = [float((k.abs() * self.mask).max()) for k in self.k]
        self._e_half: dict[float, torch.Tensor] = {}
        # the fused step's operands: 1D wavenumbers and masks per axis (trailing axis for the
        # real view of complex numbers), everything else is formed inside its kernels
        others = [tuple(a for a in self.dims if a != d) for d in self.dims]
        self._k_real = tuple(k.unsqueeze(-1) for k in self.k)
        self._masks_real = tuple(self.mask.to(dtype).amax(dim=o, keepdim=True).unsqueeze(-1) for o in others)
        self._nu = torch.tensor(self.nu, device=self.device, dtype=dtype)
        self._sgs = None
        #: (state, its version, its first transform) from the last ``max_velocity``: the step
        #: from that state, which the adaptive loop takes next, starts from it
        self._first = None

    # ---- transforms -----------------------------------------------------------------------
    def to_spectral(self, f: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfftn(f.to(device=self.device, dtype=self.dtype), dim=self.dims) * self.mask

    def to_physical(self, f_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfftn(f_hat, s=self.shape, dim=self.dims)

    def grid(self) -> torch.Tensor:
        return torch.arange(self.n, device=self.device, dtype=self.dtype) * (self.length / self.n)

    # ---- time stepping --------------------------------------------------------------------
    def linear_symbol(self) -> torch.Tensor:
        return -self.nu * self.k2

    def step(self, v: torch.Tensor, dt: float) -> torch.Tensor:
        """One Lawson-RK4 step (no stability check: the solver's hot loop and the benchmark)."""
        if self._fused_for(v) != "off":
            h = torch.full((), dt, device=self.device, dtype=self.dtype)  # a tensor: no recompiles
            first, self._first = self._first, None
            first = first[2] if first is not None and first[0] is v and first[1] == v._version else None
            out = self._run_fused(self.fused_step, v, h, *self._fused_args(), first)
            out = torch.view_as_complex(out if out.is_contiguous() else out.contiguous())
            return out.clone() if self.fused == "graphs" else out  # a replay overwrites its output
        e = self._e_half.get(dt)
        if e is None:
            e = torch.exp(self.linear_symbol() * (0.5 * dt)).to(_complex(self.dtype))
            self._e_half = {dt: e}  # one cached step size: the adaptive loop changes it often
        return lawson_rk4(v, dt, self.nonlinear, e)

    def _fused_args(self) -> tuple:
        """Operands of ``fused_step`` after the state and the step size."""
        raise NotImplementedError

    def _fused_for(self, v: torch.Tensor) -> str:
        small = self._small_off and self.fused != "eager" and v.numel() < AUTO_COMPILE_MIN
        return "off" if small else self.fused

    def _run_fused(self, function, v, *args):
        """``function`` of :mod:`lab.solvers.ns_fused` on the real view of ``v``, run as ``self.fused`` says."""
        run = ns_fused.runner(function, self.fused)
        if self.fused == "graphs":
            torch.compiler.cudagraph_mark_step_begin()
        return run(torch.view_as_real(v.contiguous()), *args)

    def nonlinear(self, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def max_velocity(self, v: torch.Tensor) -> list[float]:
        """max |u_d| over the batch, per direction."""
        if self._fused_for(v) != "off":  # from the transform the next step starts with; one device sync
            x, speed = self._run_fused(ns_fused.first_transform, v, self._k_real, self._sgs, self.n)
            if self.fused != "graphs":  # a replay would overwrite it
                self._first = (v, v._version, x)
            return speed.tolist()
        u = self.velocity(v)
        return [float(u.select(-self.ndim - 1, d).abs().max()) for d in range(self.ndim)]

    def eddy_viscosity_max(self, v: torch.Tensor) -> float:
        return 0.0

    def cfl_number(self, v: torch.Tensor, dt: float) -> float:
        """Advective CFL number ``dt * sum_d max|u_d| k_max,d`` of a step ``dt`` from state ``v``."""
        return dt * sum(u * k for u, k in zip(self.max_velocity(v), self.k_max))

    def max_stable_dt(self, v: torch.Tensor, cfl: float = 1.0) -> float:
        speed = sum(u * k for u, k in zip(self.max_velocity(v), self.k_max))
        dt = cfl / speed if speed > 0 else math.inf
        nu_t = self.eddy_viscosity_max(v)
        if nu_t > 0:
            dt = min(dt, cfl * DIFFUSIVE_LIMIT / CFL_LIMIT / (nu_t * sum(k * k for k in self.k_max)))
        if not math.isfinite(dt):
            raise ValueError("the flow is at rest and unforced-CFL gives no time step; pass dt")
        return dt

    def check_dt(self, v: torch.Tensor, dt: float) -> None:
        """Raise ``ValueError`` naming ``dt`` when a step of ``dt`` would be unstable."""
        check_cfl(self.cfl_number(v, dt), dt)
        nu_t = self.eddy_viscosity_max(v)
        d = dt * nu_t * sum(k * k for k in self.k_max)
        if not d <= DIFFUSIVE_LIMIT:
            raise ValueError(f"dt={dt:g} is unstable: eddy-viscosity number {d:.3g} exceeds "
                             f"{DIFFUSIVE_LIMIT} (use dt <= {dt * DIFFUSIVE_LIMIT / d:.3g})")

    def estimate_bytes(self, batch: int = 1) -> int:
        """Working memory of one step for ``batch`` fields (FFT buffers and RK stages)."""
        itemsize = torch.finfo(self.dtype).bits // 8
        return int(self.working_arrays * batch * self.n**self.ndim * itemsize)

    def check_memory(self, batch: int = 1, frames: int = 0) -> None:
        need = self.estimate_bytes(batch) + frames * batch * self.n**self.ndim * self.ndim \
            * torch.finfo(self.dtype).bits // 8
        if need > self.max_bytes:
            raise ValueError(f"n={self.n} with batch={batch} needs about {need / 2**30:.2f} GiB, "
                             f"above max_bytes={self.max_bytes / 2**30:.2f} GiB; lower n or raise "
                             f"max_bytes")

    def _solve(self, v0, times, dt, cfl, out):
        if dt is not None and not dt > 0:
            raise ValueError(f"dt must be positive, got {dt}")
        if not 0 < cfl <= CFL_LIMIT:
            raise ValueError(f"cfl must be in (0, {CFL_LIMIT}], got {cfl}")
        frames = advance_to(v0, times, self.step, lambda v: self.max_stable_dt(v, cfl), out,
                            dt=dt, check_dt=self.check_dt)
        return frames


class NavierStokes2D(_PeriodicNS):
    """2D vorticity equation ``w_t + u.grad w = nu lap w - drag w + f`` on ``[0, length)^2``.

    ``forcing`` is the vorticity forcing ``f(x, y)`` sampled on the grid (see
    :func:`fno_forcing`, :func:`kolmogorov_forcing`). Fields are laid out ``(..., x, y)``.
    """

    ndim = 2
    working_arrays = 32
    fused_step = staticmethod(ns_fused.vorticity_step)

    def __init__(self, n: int, *, nu: float, length: float = 2 * math.pi, drag: float = 0.0,
                 forcing: torch.Tensor | None = None, max_bytes: float = DEFAULT_MAX_BYTES,
                 device=None, dtype=torch.float64, fused: str = "auto"):
        if not drag >= 0:
            raise ValueError(f"drag must be >= 0, got {drag}")
        self.drag = float(drag)
        super().__init__(n, nu=nu, length=length, max_bytes=max_bytes, device=device, dtype=dtype,
                         fused=fused)
        self.forcing_hat = None
        if forcing is not None:
            if tuple(forcing.shape) != self.shape:
                raise ValueError(f"forcing must have shape {self.shape}, got {tuple(forcing.shape)}")
            self.forcing_hat = self.to_spectral(forcing)
        self._drag = torch.tensor(self.drag, device=self.device, dtype=dtype)

    def _fused_args(self):
        forcing = None if self.forcing_hat is None else torch.view_as_real(self.forcing_hat)
        return self._k_real, self._masks_real, self._nu, self._drag, forcing, self.n

    def linear_symbol(self):
        return -self.nu * self.k2 - self.drag

    def velocity(self, w_hat: torch.Tensor) -> torch.Tensor:
        """``(u, v) = (psi_y, -psi_x)`` with ``lap psi = -w``: shape ``(..., 2, n, n)``."""
        psi = w_hat * self.inv_k2
        kx, ky = self.ik
        return self.to_physical(torch.stack([ky * psi, -kx * psi], dim=-3))

    def nonlinear(self, w_hat):
        kx, ky = self.ik
        psi = w_hat * self.inv_k2
        # one batched inverse transform for u, v, w_x, w_y
        f = self.to_physical(torch.stack([ky * psi, -kx * psi, kx * w_hat, ky * w_hat], dim=-3))
        adv = f[..., 0, :, :] * f[..., 2, :, :] + f[..., 1, :, :] * f[..., 3, :, :]
        n_hat = -torch.fft.rfftn(adv, dim=self.dims) * self.mask
        return n_hat if self.forcing_hat is None else n_hat + self.forcing_hat

    def energy(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Kinetic energy ``0.5 <|u|^2>`` (box average) per batch member."""
        return 0.5 * self.velocity(w_hat).pow(2).sum(-3).mean(dim=self.dims)

    def enstrophy(self, w_hat: torch.Tensor) -> torch.Tensor:
        """``Z = 0.5 <w^2>``; unforced, undamped flow obeys ``dE/dt = -2 nu Z``."""
        return 0.5 * self.to_physical(w_hat).pow(2).mean(dim=self.dims)

    def solve(self, w0: torch.Tensor, times, *, dt: float | None = None, cfl: float = 1.0,
              output: str = "vorticity") -> torch.Tensor:
        """Vorticity (or velocity) at ``times`` from ``w0`` of shape ``(..., n, n)`` at ``t = 0``.

        Returns ``(..., len(times), n, n)`` for ``output="vorticity"`` and
        ``(..., len(times), 2, n, n)`` for ``output="velocity"``.
        """
        if tuple(w0.shape[-2:]) != self.shape:
            raise ValueError(f"w0 must end with shape {self.shape}, got {tuple(w0.shape)}")
        outs = {"vorticity": self.to_physical, "velocity": self.velocity}
        if output not in outs:
            raise ValueError(f"output must be one of {sorted(outs)}, got {output!r}")
        batch = math.prod(w0.shape[:-2])
        self.check_memory(batch, frames=len(torch.as_tensor(times).reshape(-1)))
        frames = self._solve(self.to_spectral(w0), times, dt, cfl, outs[output])
        lead = w0.ndim - 2
        return frames.movedim(0, lead)


def fno_forcing(n: int, *, device=None, dtype=torch.float64) -> torch.Tensor:
    """``f = 0.1 (sin 2pi(x+y) + cos 2pi(x+y))`` on ``[0, 1)^2`` (Li et al., ICLR 2021)."""
    x = torch.arange(n, device=device, dtype=dtype) / n
    s = 2 * math.pi * (x[:, None] + x[None, :])
    return 0.1 * (torch.sin(s) + torch.cos(s))


def kolmogorov_forcing(n: int, *, wavenumber: int = 4, amplitude: float = 1.0,
                       length: float = 2 * math.pi, device=None, dtype=torch.float64) -> torch.Tensor:
    """Vorticity forcing of the body force ``F = (A sin(k y), 0)``: ``curl F = -A k cos(k y)``.

    ``k`` counts periods per box (angular wavenumber ``2 pi k / L``); Kochkov et al. (PNAS
    2021) use ``k = 4``, ``A = 1`` in a ``2 pi`` box with drag ``0.1``.
    """
    y = torch.arange(n, device=device, dtype=dtype) * (length / n)
    kk = 2 * math.pi * wavenumber / length
    return (-amplitude * kk * torch.cos(kk * y))[None, :].expand(n, n).clone()


class NavierStokes3D(_PeriodicNS):
    """3D incompressible Navier–Stokes, velocity ``(..., 3, n, n, n)`` on ``[0, length)^3``.

    ``cs > 0`` adds the Smagorinsky eddy viscosity (an LES on a coarse grid); ``forcing`` is an
    optional body force ``(3, n, n, n)``.
    """

    ndim = 3
    working_arrays = 48
    fused_step = staticmethod(ns_fused.velocity_step)

    def __init__(self, n: int, *, nu: float, cs: float = 0.0, length: float = 2 * math.pi,
                 forcing: torch.Tensor | None = None, max_bytes: float = DEFAULT_MAX_BYTES,
                 device=None, dtype=torch.float64, fused: str = "auto"):
        if not 0 <= cs <= 1:
            raise ValueError(f"cs (Smagorinsky constant) must be in [0, 1], got {cs}")
        self.cs = float(cs)
        if self.cs > 0:
            self.working_arrays = 84
        super().__init__(n, nu=nu, length=length, max_bytes=max_bytes, device=device, dtype=dtype,
                         fused=fused)
        self.delta = self.length / self.n
        self.forcing_hat = None
        if forcing is not None:
            if tuple(forcing.shape) != (3,) + self.shape:
                raise ValueError(f"forcing must have shape {(3,) + self.shape}, got {tuple(forcing.shape)}")
            self.forcing_hat = self.project(self.to_spectral(forcing))
        # 2 (C_s Delta)^2, the coefficient of the closure's stress, as the reference forms it
        self._sgs = torch.tensor(2 * (self.cs * self.delta) ** 2, device=self.device, dtype=dtype) \
            if self.cs > 0 else None

    def _fused_args(self):
        forcing = None if self.forcing_hat is None else torch.view_as_real(self.forcing_hat)
        return self._k_real, self._masks_real, self._nu, self._sgs, forcing, self.n

    # ---- vector calculus in Fourier space ------------------------------------------------
    def project(self, a_hat: torch.Tensor) -> torch.Tensor:
        """Leray projection onto divergence-free fields: ``a - k (k.a) / |k|^2``."""
        kx, ky, kz = self.k
        kdota = (kx * a_hat[..., 0, :, :, :] + ky * a_hat[..., 1, :, :, :]
                 + kz * a_hat[..., 2, :, :, :]) * self.inv_k2
        return a_hat - torch.stack([kx * kdota, ky * kdota, kz * kdota], dim=-4)

    def curl_hat(self, u_hat: torch.Tensor) -> torch.Tensor:
        ikx, iky, ikz = self.ik
        u, v, w = u_hat.unbind(-4)
        return torch.stack([iky * w - ikz * v, ikz * u - ikx * w, ikx * v - iky * u], dim=-4)

    def divergence(self, u_hat: torch.Tensor) -> torch.Tensor:
        ikx, iky, ikz = self.ik
        u, v, w = u_hat.unbind(-4)
        return self.to_physical(ikx * u + iky * v + ikz * w)

    def velocity(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.to_physical(u_hat)

    def _gradient(self, u_hat):
        """``g[..., i, j] = d u_i / d x_j`` in physical space, ``(..., 3, 3, n, n, n)``."""
        ik = torch.stack(torch.broadcast_tensors(*self.ik), dim=0)  # (3, n, n, n//2+1)
        return self.to_physical(u_hat.unsqueeze(-4) * ik)

    def _strain(self, u_hat):
        g = self._gradient(u_hat)
        s = 0.5 * (g + g.transpose(-4, -5))
        s_norm = torch.sqrt(2 * s.pow(2).sum(dim=(-4, -5)))
        return s, s_norm

    def eddy_viscosity(self, u_hat: torch.Tensor) -> torch.Tensor:
        """``nu_t = (C_s Delta)^2 |S|`` (zero without the closure)."""
        if self.cs == 0:
            return torch.zeros(u_hat.shape[:-4] + self.shape, device=self.device, dtype=self.dtype)
        return (self.cs * self.delta) ** 2 * self._strain(u_hat)[1]

    def eddy_viscosity_max(self, v):
        return float(self.eddy_viscosity(v).max()) if self.cs > 0 else 0.0

    def _sgs_force_hat(self, u_hat):
        """Unprojected ``div(2 nu_t S)`` in Fourier space, de-aliased."""
        s, s_norm = self._strain(u_hat)
        tau_hat = torch.fft.rfftn(2 * (self.cs * self.delta) ** 2 * s_norm.unsqueeze(-4).unsqueeze(-4) * s,
                                  dim=self.dims)
        ik = torch.stack(torch.broadcast_tensors(*self.ik), dim=0)
        return (tau_hat * ik).sum(-4) * self.mask

    def _rhs_unprojected(self, u_hat):
        u = self.to_physical(torch.cat([u_hat, self.curl_hat(u_hat)], dim=-4))
        vel, vort = u[..., :3, :, :, :], u[..., 3:, :, :, :]
        r = torch.fft.rfftn(torch.linalg.cross(vel, vort, dim=-4), dim=self.dims) * self.mask
        if self.cs > 0:
            r = r + self._sgs_force_hat(u_hat)
        if self.forcing_hat is not None:
            r = r + self.forcing_hat
        return r

    def nonlinear(self, u_hat):
        return self.project(self._rhs_unprojected(u_hat))

    def pressure(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Kinematic pressure ``p`` (zero mean) of ``u_t + u.grad u = -grad p + ...``.

        The projection removes ``grad P`` with ``P = p + |u|^2/2`` (Bernoulli head), found from
        ``lap P = div(u x w + div(2 nu_t S) + f)``.
        """
        r = self._rhs_unprojected(u_hat)
        kx, ky, kz = self.ik
        p_head = -(kx * r[..., 0, :, :, :] + ky * r[..., 1, :, :, :] + kz * r[..., 2, :, :, :]) \
            * self.inv_k2
        u = self.to_physical(u_hat)
        p = self.to_physical(p_head) - 0.5 * u.pow(2).sum(-4)
        return p - p.mean(dim=self.dims, keepdim=True)

    def energy(self, u_hat: torch.Tensor) -> torch.Tensor:
        """``E = 0.5 <|u|^2>`` per batch member."""
        return 0.5 * self.to_physical(u_hat).pow(2).sum(-4).mean(dim=self.dims)

    def enstrophy(self, u_hat: torch.Tensor) -> torch.Tensor:
        """``Z = 0.5 <|w|^2>``; the resolved dissipation is ``eps = 2 nu Z``."""
        return 0.5 * self.to_physical(self.curl_hat(u_hat)).pow(2).sum(-4).mean(dim=self.dims)

    def solve(self, u0: torch.Tensor, times, *, dt: float | None = None, cfl: float = 1.0,
              output: str = "velocity") -> torch.Tensor:
        """Fields at ``times`` from ``u0`` ``(..., 3, n, n, n)`` (projected to be solenoidal).

        ``output="velocity"``: ``(..., len(times), 3, n, n, n)``; ``"velocity_pressure"``:
        ``(..., len(times), 4, n, n, n)`` with ``p`` last.
        """
        if tuple(u0.shape[-4:]) != (3,) + self.shape:
            raise ValueError(f"u0 must end with shape {(3,) + self.shape}, got {tuple(u0.shape)}")
        outs = {"velocity": self.to_physical,
                "velocity_pressure": lambda v: torch.cat(
                    [self.to_physical(v), self.pressure(v).unsqueeze(-4)], dim=-4)}
        if output not in outs:
            raise ValueError(f"output must be one of {sorted(outs)}, got {output!r}")
        batch = math.prod(u0.shape[:-4])
        self.check_memory(batch, frames=len(torch.as_tensor(times).reshape(-1)) * 4 // 3)
        frames = self._solve(self.project(self.to_spectral(u0)), times, dt, cfl, outs[output])
        return frames.movedim(0, u0.ndim - 4)


# ---- initial velocity fields -----------------------------------------------------------------
def _box(n, length, device, dtype):
    x = torch.arange(n, device=device, dtype=dtype) * (length / n)
    return torch.meshgrid(x, x, x, indexing="ij")


def taylor_green_3d(n: int, *, amplitude: float = 1.0, device=None, dtype=torch.float64) -> torch.Tensor:
    """``u = V0 (sin x cos y cos z, -cos x sin y cos z, 0)`` in ``[0, 2pi)^3`` (Taylor & Green 1937).

    The standard vortex-breakdown benchmark (Brachet et al., *J. Fluid Mech.* 130, 1983; Re =
    1600 in the DNS/LES workshops). Energy at ``t = 0``: ``V0^2 / 8``.
    """
    x, y, z = _box(n, 2 * math.pi, device, dtype)
    return amplitude * torch.stack([torch.sin(x) * torch.cos(y) * torch.cos(z),
                                    -torch.cos(x) * torch.sin(y) * torch.cos(z),
                                    torch.zeros_like(x)])


def abc_flow(n: int, *, k: int = 1, a: float = 1.0, b: float = 1.0, c: float = 1.0,
             device=None, dtype=torch.float64) -> torch.Tensor:
    """Arnold–Beltrami–Childress flow: ``curl u = k u``, so ``u x w = 0`` and the Navier–Stokes
    solution is ``u(t) = u(0) exp(-nu k^2 t)`` exactly (Dombre et al., *J. Fluid Mech.* 167, 1986).
    """
    x, y, z = _box(n, 2 * math.pi, device, dtype)
    return torch.stack([a * torch.sin(k * z) + c * torch.cos(k * y),
                        b * torch.sin(k * x) + a * torch.cos(k * z),
                        c * torch.sin(k * y) + b * torch.cos(k * x)])


def isotropic_turbulence(n: int, *, k0: float = 4.0, energy: float = 0.5, batch: int = 1,
                         generator: torch.Generator, length: float = 2 * math.pi, device=None,
                         dtype=torch.float64) -> torch.Tensor:
    """Random solenoidal velocity ``(batch, 3, n, n, n)`` with spectrum ``E(k) ~ k^4 exp(-2 (k/k0)^2)``.

    Each Fourier mode gets a random direction normal to ``k`` and a random phase (projected
    Gaussian noise drawn from ``generator`` on the CPU, so a seed gives the same field on every
    device) and the amplitude ``|u_hat(k)| ~ sqrt(E(|k|)) / |k|``, so that shells of ``~4 pi k^2``
    modes carry ``E(k)``; the field is de-aliased and scaled to ``0.5 <|u|^2> = energy``
    exactly. The spectrum peaks at ``k = k0`` (Passot & Pouquet-type initialisation for decaying
    isotropic turbulence, e.g. Rogallo 1981).
    """
    if not k0 > 0:
        raise ValueError(f"k0 must be positive, got {k0}")
    if not energy > 0:
        raise ValueError(f"energy must be positive, got {energy}")
    _check_positive_int("batch", batch, 1)
    ns = NavierStokes3D(n, nu=0.0, length=length, device=device, dtype=dtype)
    noise = torch.randn((batch, 3) + ns.shape, generator=generator, dtype=torch.float64)
    a = ns.project(ns.to_spectral(noise.to(device=ns.device, dtype=dtype)))
    kmag = torch.sqrt(ns.k2)
    spectrum = kmag**4 * torch.exp(-2 * (kmag / k0) ** 2)
    amp = torch.sqrt(spectrum) * ns.inv_k2.sqrt()
    norm = a.abs().pow(2).sum(-4, keepdim=True).sqrt()
    a = torch.where(norm > 0, a / norm.clamp_min(1e-300), torch.zeros_like(a)) * amp
    u = ns.to_physical(a)
    e = 0.5 * u.pow(2).sum(1).mean(dim=(-3, -2, -1))
    return u * torch.sqrt(energy / e)[:, None, None, None, None]
