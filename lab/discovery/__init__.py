"""Equation discovery: which PDE produced these data? A PINN fitted to sparse noisy samples,
a library of candidate terms evaluated on it, and sparse regression (STLSQ) alternating with
the fit (:func:`discover`)."""
from lab.discovery.fit import Discovery, DiscoveryConfig, DiscoveryStep, discover, equation_text
from lab.discovery.library import Library, reference_library, true_coefficients
from lab.discovery.regression import sparse_regression

__all__ = ["Discovery", "DiscoveryConfig", "DiscoveryStep", "Library", "discover", "equation_text",
           "reference_library", "sparse_regression", "true_coefficients"]
