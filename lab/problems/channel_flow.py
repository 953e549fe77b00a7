"""Steady Stokes flow past a cylinder in a channel, with a Taylor–Hood finite-element reference.

The layout is the 2D benchmark of Schäfer & Turek (1996): a channel ``[0, 2.2] × [0, 0.41]``, a
cylinder of radius 0.05 at ``(0.2, 0.2)`` (slightly off the centre line, so the flow is not
symmetric), a parabolic inflow, no-slip walls and cylinder, and a traction-free ("do-nothing")
outflow. Here in the Stokes limit ``Re → 0``: the reference is one linear solve
(:func:`lab.solvers.fem.stokes`, P2 velocity / P1 pressure on
:func:`lab.solvers.fem.channel_with_cylinder_mesh`), whose errors fall as ``h³`` (velocity, L2)
and ``h²`` (velocity H1, pressure L2) — measured against a manufactured solution on the same
mesh family in ``tests/test_stokes_cylinder.py``. The cylinder is a polygon with its nodes on
the circle, which adds an ``O(h²)`` geometric error next to it that a manufactured solution
does not see. A PINN learns the flow with ``hard="bc"`` (:meth:`StokesCylinder.hard_output`, a
stream function); without it, it settles in the no-flow state.
"""
from __future__ import annotations

import numpy as np
import param
import torch

from lab.autodiff import Fields
from lab.config import ConfigError, label
from lab.geometry import Disk, Rectangle, classify
from lab.problems import register
from lab.problems.custom import Dirichlet, Neumann
from lab.problems.geometric import GeometryProblem
from lab.solvers.fem import channel_with_cylinder_mesh, probe, stokes

#: no-slip parts: the channel's walls and the cylinder
NO_SLIP = ("walls", "cylinder")


@register
class StokesCylinder(GeometryProblem):
    """``-ν Δu + ∇p = 0``, ``∇·u = 0`` in the channel minus the cylinder; outputs ``(u, v, p)``.

    Boundary parts: ``inlet`` (x = 0) with ``u = 4 U y (H − y) / H²``, ``v = 0``; ``walls``
    (y = 0, H) and ``cylinder`` with ``u = v = 0``; ``outlet`` (x = L) with the do-nothing
    condition ``ν ∂u/∂n − p n = 0``, i.e. ``ν u_x = p`` and ``v_x = 0`` (it fixes the pressure's
    constant: ``p → 0`` as the flow leaves fully developed). The velocity does not depend on
    ``ν`` (Stokes flow is linear and driven by velocity data); the pressure scales with it.
    """

    key = "stokes_cylinder"
    title = "Stokes flow past a cylinder (FEM)"
    latex = (r"-\nu\Delta\mathbf{u} + \nabla p = 0,\ \nabla\cdot\mathbf{u} = 0,\quad "
             r"u = \tfrac{4Uy(H-y)}{H^2} \text{ at the inlet},\quad \mathbf{u} = 0 \text{ on walls and cylinder},"
             r"\quad \nu\,\partial_n\mathbf{u} - p\,\mathbf{n} = 0 \text{ at the outlet}")
    description = ("Creeping flow around a cylinder in a channel (the Schäfer–Turek layout): velocity and "
                   "pressure from one network, no-slip on a curved wall, a natural outflow condition; "
                   "the reference is Taylor–Hood finite elements.")
    source = ("Schäfer & Turek, Notes Numer. Fluid Mech. 52 (1996); Taylor & Hood, Comput. Fluids 1 (1973); "
              "scikit-fem (Gustafsson & McBain, JOSS 5, 2020)")
    outputs = ("u", "v", "p")
    grid_shape = (155, 30)
    #: channel height H (the benchmark's)
    height = 0.41

    length = param.Number(2.2, bounds=(0.5, 4.0), doc="Channel length L")
    center_x = param.Number(0.2, bounds=(0.05, 1.0), doc="Cylinder centre x")
    center_y = param.Number(0.2, bounds=(0.05, 0.36), doc="Cylinder centre y (channel height 0.41)")
    radius = param.Number(0.05, bounds=(0.01, 0.2), doc="Cylinder radius")
    u_max = param.Number(0.3, bounds=(0.01, 2.0), doc="Peak inflow velocity U")
    nu = param.Number(0.01, bounds=(1e-3, 10.0), label="Viscosity ν", doc="Kinematic viscosity ν")
    n = param.Integer(8, bounds=(2, 32), label="Reference mesh n",
                      doc="Reference mesh: n layers around the cylinder, 2n rows across the channel")

    @param.depends("length", "center_x", "center_y", "radius", watch=True, on_init=True)
    def _check_fit(self):
        h, cx, cy, r = self.height, self.center_x, self.center_y, self.radius
        room = min(cx, cy, h - cy, h / 2)
        if not r < room:
            raise ConfigError("radius", f"{label(self.param['radius'])} = {r:g} does not fit the channel: with the "
                                        f"centre at ({cx:g}, {cy:g}) in a channel of height {h:g} it must lie in "
                                        f"(0, {room:.4g})")
        need = cx + min(cx, h / 2)
        if not self.length > need:
            raise ConfigError("length", f"{label(self.param['length'])} = {self.length:g} leaves no channel "
                                        f"behind the cylinder at x = {cx:g}: it must lie in ({need:.4g}, 4]")

    def geometry(self):
        return Rectangle((0.0, 0.0), (self.length, self.height), parts=("walls", "outlet", "walls", "inlet")) \
            - Disk((self.center_x, self.center_y), self.radius, part="cylinder")

    def conditions(self):
        # per part, what the velocity obeys (the outlet's traction condition involves p too:
        # :meth:`_boundary_residual` states it); these name the kinds for the views
        return {"inlet": Dirichlet(self.inflow), "walls": Dirichlet(0.0), "cylinder": Dirichlet(0.0),
                "outlet": Neumann(0.0)}

    def inflow(self, x, y):
        """The parabolic inflow ``4 U y (H − y) / H²`` (mean ``2U/3``)."""
        return 4 * self.u_max * y * (self.height - y) / self.height ** 2

    def residual(self, f):
        lap = [f.d("x", "x", out=k) + f.d("y", "y", out=k) for k in (0, 1)]
        return torch.stack([-self.nu * lap[0] + f.d("x", out=2), -self.nu * lap[1] + f.d("y", out=2),
                            f.d("x", out=0) + f.d("y", out=1)], dim=1)

    def _boundary_residual(self, model, X):
        """Two components per point: velocity minus its data on the Dirichlet parts, the
        traction ``ν ∂u/∂n − p n`` (``n = (1, 0)``) at the outlet."""
        _, parts = classify(self.region(), X)
        f = Fields(model, X, self.axes)
        u, v, p = f(0), f(1), f(2)
        names = self.region().parts
        inlet, outlet = (parts == names.index("inlet")), (parts == names.index("outlet"))
        g = torch.where(inlet, self.inflow(X[:, 0], X[:, 1]), torch.zeros_like(u))
        wall = torch.stack([u - g, v], dim=1)
        traction = torch.stack([self.nu * f.d("x", out=0) - p, self.nu * f.d("x", out=1)], dim=1)
        return torch.where(outlet[:, None], traction, wall)

    # ---- hard constraint: a stream function ---------------------------------------------------
    def hard_covers_boundary(self):
        return False  # the outlet's traction condition stays a loss term

    def hard_parameters(self) -> dict[str, float]:
        """The stream function's value on the cylinder (the share of the flux that passes below
        it), unknown beforehand, so trained with the network; it starts at the inflow's share
        below the centre line."""
        return {"psi_cylinder": float(self._inflow_stream(self.center_y))}

    def _inflow_stream(self, y):
        """``Ψ(y) = ∫₀^y 4Uη(H − η)/H² dη``: the inflow's stream function (0 on the bottom
        wall, the flux ``2UH/3`` on the top one)."""
        H = self.height
        return 4 * self.u_max * (H * y ** 2 / 2 - y ** 3 / 3) / H ** 2

    def hard_output(self, X, net, params):
        """``(u, v, p)`` with ``u = ∂ψ/∂y``, ``v = −∂ψ/∂x``: divergence-free by construction,
        and the velocity meets the inflow, the walls and the cylinder exactly.

        ``ψ = Ψ(y)(1 − b) + ψ_c b + Q D² N₀``, ``p = N₂`` (the network's first and last outputs;
        the middle one is unused). ``b(r) = (1 − s²)⁴``, ``s = (r − R)/ρ`` clipped to ``[0, 1]``,
        is a bump around the cylinder, 1 on it with zero slope and gone (three derivatives
        too) within the gap ``ρ`` to the walls and the inlet, so ``ψ`` is ``Ψ`` there and the
        constant ``ψ_c`` on the cylinder. ``D = (x/L) · 4y(H − y)/H² · tanh((r − R)/ℓ)``,
        ``ℓ = 0.3 H``, is zero on the inlet, the walls and the cylinder, not at the outlet;
        squared, ``D² N₀`` has zero gradient there, so it leaves the velocity data alone; the
        flux ``Q = Ψ(H)`` scales it to the flow's size (a network's output is of order 1).
        Why a stream function: a constraint on the velocity alone (``u = g + D N``) still let
        the no-flow state win — the network met ∇·u = 0 badly near the cylinder and lowered the
        loss by draining the flow instead (rel L2 0.82–0.90 at 500–1000 Adam steps)."""
        L, H, R, cx, cy = self.length, self.height, self.radius, self.center_x, self.center_y
        rho = min(cx, cy, H - cy) - R
        grad_wanted = torch.is_grad_enabled()
        with torch.enable_grad():  # the velocity is a derivative, also when evaluating
            X = X if X.requires_grad else X.detach().requires_grad_(True)
            x, y = X[:, :1], X[:, 1:2]
            r = torch.hypot(x - cx, y - cy)
            b = (1 - ((r - R) / rho).clamp(0, 1) ** 2) ** 4
            D = x / L * 4 * y * (H - y) / H ** 2 * torch.tanh((r - R) / (0.3 * H))
            n = net(X)
            flux = self._inflow_stream(H)
            psi = self._inflow_stream(y) * (1 - b) + params["psi_cylinder"] * b + flux * D ** 2 * n[:, :1]
            dpsi = torch.autograd.grad(psi.sum(), X, create_graph=grad_wanted)[0]
        out = torch.cat([dpsi[:, 1:2], -dpsi[:, :1], n[:, 2:3]], dim=1)
        return out if grad_wanted else out.detach()

    # ---- reference ------------------------------------------------------------------------
    def mesh(self):
        """The reference mesh (:func:`lab.solvers.fem.channel_with_cylinder_mesh`)."""
        return channel_with_cylinder_mesh(self.length, self.height, (self.center_x, self.center_y),
                                          self.radius, self.n)

    def solve_fem(self):
        """``(velocity basis, u, pressure basis, p)``: the Taylor–Hood solution."""
        def inflow(x):
            return np.stack([self.inflow(x[0], x[1]), np.zeros(x.shape[1:])])

        def wall(x):
            return np.zeros((2,) + x.shape[1:])

        return stokes(self.mesh(), self.nu, wall, {"inlet": inflow, **{k: wall for k in NO_SLIP}},
                      {"outlet": lambda x, n: np.zeros((2,) + x.shape[1:])})

    def _node_values(self) -> np.ndarray:
        ub, u, _, p = self.solve_fem()
        return np.stack([u[ub.nodal_dofs[0]], u[ub.nodal_dofs[1]], p], axis=1)  # vertex values

    def reference_nodes(self):
        mesh = self.mesh()
        return self._nodes(mesh.p.T, mesh.t.T, self._node_values)

    def _reference(self, grid):
        mesh, nodes = self.mesh(), self.reference_nodes()
        mask = self.inside(grid)
        X, Y = np.meshgrid(grid["x"], grid["y"], indexing="ij")
        out = np.zeros(X.shape + (3,))
        pts = np.stack([X[mask], Y[mask]])
        for k in range(3):  # linear between the vertices: the grid is for display
            out[mask, k] = probe(mesh, nodes["values"][:, k], pts)
        return out
