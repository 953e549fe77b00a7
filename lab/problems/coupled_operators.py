"""Operator learning on the coupled systems: an MHD state map and a convection map.

Both are *maps* (``rollout = False``): the model reads the initial fields as channels and
returns the coupled fields at ``T`` (:mod:`lab.data.coupled` makes the data from the lab's
pseudo-spectral solvers).
"""
from __future__ import annotations

import math

import param

from lab.data.coupled import Convection2DData, MHD2DData
from lab.problems import register
from lab.problems.operators import OperatorProblem


@register
class MHD2DOperator(OperatorProblem):
    """``(w0, a0) -> (w, a)(T)`` for 2D MHD from Orszag–Tang-like states."""

    key = "mhd2d_operator"
    title = "MHD 2D operator (Orszag–Tang family, FNO 2D)"
    latex = (r"\mathcal{G}: (\omega_0, a_0) \mapsto (\omega, a)(\cdot, T),\ \omega_t + \mathbf u\cdot\nabla\omega"
             r" = \mathbf B\cdot\nabla j + \nu\Delta\omega,\ a_t + \mathbf u\cdot\nabla a = \eta\Delta a")
    description = ("Learn how a conducting flow and its magnetic field evolve together: vortices "
                   "and magnetic islands of random amplitude and phase, mapped to their state at T.")
    source = "Orszag & Tang, J. Fluid Mech. 90 (1979); Li et al., ICLR 2021 (the FNO setting)"
    axes = ("x", "y")
    outputs = ("omega", "a")
    periodic = ("x", "y")
    channels = (2, 2)

    nu = param.Number(0.015, bounds=(1e-3, 1.0), doc="Viscosity ν")
    eta = param.Number(0.015, bounds=(1e-3, 1.0), doc="Resistivity η")
    t_end = param.Number(0.5, bounds=(0.01, 5.0), doc="Final time T")
    resolution = param.Integer(32, bounds=(16, 1024), doc="Grid of the data and the solver")

    def bounds(self):
        return {"x": (0.0, 2 * math.pi), "y": (0.0, 2 * math.pi)}

    @property
    def shape(self):
        return (self.resolution, self.resolution)

    def spec(self):
        return MHD2DData(n_samples=self.n_train + self.n_val, seed=self.seed, solver_batch=self.solver_batch,
                         nu=self.nu, eta=self.eta, t_end=self.t_end, resolution=self.resolution)


@register
class Convection2DOperator(OperatorProblem):
    """``theta0 -> (theta, psi)(T)`` for Rayleigh–Bénard convection between free-slip walls."""

    key = "rayleigh_benard2d_operator"
    title = "Rayleigh–Bénard operator (FNO 2D)"
    latex = (r"\mathcal{G}: \theta_0 \mapsto (\theta, \psi)(\cdot, T),\ \omega_t + \mathbf u\cdot\nabla\omega"
             r" = \mathrm{Pr}\Delta\omega - \mathrm{Pr\,Ra}\,\theta_x,\ \theta_t + \mathbf u\cdot\nabla\theta"
             r" = \Delta\theta + w")
    description = ("Learn how random temperature perturbations of a layer heated from below grow "
                   "into convection rolls: temperature in, temperature and stream function out.")
    source = "Chandrasekhar, Hydrodynamic and Hydromagnetic Stability (1961); Li et al., ICLR 2021"
    axes = ("x", "z")
    outputs = ("theta", "psi")
    periodic = ("x",)
    channels = (1, 2)

    ra = param.Number(2000.0, bounds=(700.0, 1e5), doc="Rayleigh number Ra")
    pr = param.Number(1.0, bounds=(0.01, 1e4), doc="Prandtl number Pr")
    t_end = param.Number(0.2, bounds=(0.01, 5.0), doc="Final time T")
    resolution = param.Integer(16, bounds=(8, 512), doc="Nodes in x and intervals in z")
    #: the period in x: the critical wavelength
    LX = 2 * math.sqrt(2)

    def bounds(self):
        return {"x": (0.0, self.LX), "z": (0.0, 1.0)}

    @property
    def shape(self):
        return (self.resolution, self.resolution + 1)

    def spec(self):
        return Convection2DData(n_samples=self.n_train + self.n_val, seed=self.seed, solver_batch=self.solver_batch,
                                ra=self.ra, pr=self.pr, aspect=self.LX, t_end=self.t_end,
                                nx=self.resolution, nz=self.resolution)
