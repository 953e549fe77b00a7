"""Kuramoto–Sivashinsky: the one-dimensional model of spatio-temporal chaos."""
from __future__ import annotations

import math

import param
import torch

from lab.problems import register
from lab.problems.spectral1d import PeriodicSpectralProblem
from lab.solvers.etdrk4 import KuramotoSivashinsky as KSEquation

#: preset -> (x period, final time, alpha, beta, gamma, wavenumber of the initial condition,
#:            solver points, solver max dt)
PRESETS = {
    # Wang, Sankaran & Perdikaris (2022): Kassam–Trefethen rescaled to [0, 2π] by x → x/16,
    # t → t/100, up to t = 0.5 (KT time 50), before the onset of chaos.
    "regular": (2 * math.pi, 0.5, 100 / 16, 100 / 16**2, 100 / 16**4, 1.0, 512, 1e-4),
    # Kassam & Trefethen (2005), L = 32π, into the chaotic regime.
    "chaotic": (32 * math.pi, 100.0, 1.0, 1.0, 1.0, 1 / 16, 512, 0.0125),
}


@register
class KuramotoSivashinsky(PeriodicSpectralProblem):
    """``u_t + α u u_x + β u_xx + γ u_xxxx = 0``, ``u0 = cos(qx)(1 + sin(qx))``, periodic.

    Presets: ``regular`` — ``x ∈ [0, 2π)``, α = 100/16, β = 100/16², γ = 100/16⁴, q = 1,
    ``t ∈ [0, 0.5]`` (Wang et al. 2022); ``chaotic`` — ``x ∈ [0, 32π)``, α = β = γ = 1,
    q = 1/16, ``t ∈ [0, 100]`` (Kassam & Trefethen 2005). Reference: ETDRK4 with 512
    points (256 are accurate to ~1e-6 in value, but the 2/3-rule cut then leaves a PDE
    residual of 4e-4 of ``|u_t|``, amplified by ``γk⁴``; 512 bring it to ~2e-6). Time steps:
    ``dt ≤ 1e-4`` (regular; 1.2e-6 max error already at 2.5e-4) and ``dt ≤ 0.0125``
    (chaotic: 2.8e-6 max error against ``dt = 0.002``; errors grow like ``e^{λt}`` in the
    chaotic regime, so longer horizons need smaller steps). The mean of ``u`` is
    conserved.
    """

    key = "kuramoto_sivashinsky"
    title = "Kuramoto–Sivashinsky 1D"
    latex = (r"u_t + \alpha\,u\,u_x + \beta\,u_{xx} + \gamma\,u_{xxxx} = 0,"
             r"\quad u(x,0) = \cos(qx)\,(1 + \sin(qx))\ \text{periodic}")
    description = ("Long-wave instability (β u_xx) saturated by hyper-diffusion and nonlinear "
                   "transfer: cellular patterns that merge and split chaotically.")
    source = ("Kassam & Trefethen, SIAM J. Sci. Comput. 26 (2005); Wang, Sankaran & Perdikaris, "
              "Respecting causality is all you need for training PINNs (2022)")

    preset = param.Selector(default="regular", objects=list(PRESETS),
                            doc="Parameter set: 'regular' (Wang et al. 2022) or 'chaotic' "
                                "(Kassam & Trefethen 2005, L = 32π)")

    @property
    def coefficients(self) -> tuple[float, float, float]:
        """``(α, β, γ)`` of the active preset."""
        return PRESETS[self.preset][2:5]

    def bounds(self):
        length, t_end = PRESETS[self.preset][:2]
        return {"x": (0.0, length), "t": (0.0, t_end)}

    def residual(self, f):
        a, b, g = self.coefficients
        return f.d("t") + a * f() * f.d("x") + b * f.d("x", "x") + g * f.d("x", "x", "x", "x")

    def u0(self, x):
        q = PRESETS[self.preset][5]
        return torch.cos(q * x) * (1 + torch.sin(q * x))

    def solver_resolution(self):
        return PRESETS[self.preset][6:8]

    def equation(self, n, device=None, dtype=torch.float64):
        a, b, g = self.coefficients
        return KSEquation(n, PRESETS[self.preset][0], alpha=a, beta=b, gamma=g, device=device,
                          dtype=dtype)
