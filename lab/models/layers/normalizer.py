"""Pointwise output normaliser of the FNO paper: ``u(x) = mean(x) + std(x) * net(a)(x)``.

Li et al. (2021) train their Darcy and 3D Navier–Stokes FNOs on outputs standardised at every
grid point over the training set (their ``UnitGaussianNormalizer``) and decode before the
relative L2 loss. Decoding inside the model keeps every loss, metric and physics term in
physical units while the network fits an O(1) deviation from the training set's mean field:
on Darcy it reached 0.017 after 5 000 Adam steps where the plain FNO had 0.066
(``benchmarks/results/darcy_variants_NVIDIA_H200.json``), and with the paper's learning rate
the FNO-3D on Navier–Stokes reached its published error (``benchmarks/operators/run.py``).

The statistics are buffers on the training grid, saved with the weights. On another grid
they are interpolated linearly, periodic axes wrapping around, so zero-shot
super-resolution keeps working and is exact at the nodes the two grids share.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: added to the standard deviation, as in the paper's normaliser: a point where every training
#: output agrees (a Dirichlet boundary) decodes to that value
EPS = 1e-5


def resample(f: torch.Tensor, shape: tuple[int, ...], periodic: tuple[bool, ...]) -> torch.Tensor:
    """Linear interpolation of ``(N, C, *grid)`` onto ``shape`` (1 to 3 axes).

    A periodic axis holds ``x_j = j / n`` (its end point is the first one, appended before
    interpolating); a bounded one includes both ends. Either way a node shared by the two
    grids keeps its value exactly."""
    if not 1 <= len(shape) <= 3:
        raise ValueError(f"resample interpolates 1 to 3 axes, got {len(shape)}")
    for ax, p in enumerate(periodic):
        if p:
            f = torch.cat([f, f.narrow(2 + ax, 0, 1)], dim=2 + ax)
    size = [m + int(p) for m, p in zip(shape, periodic)]
    mode = ("linear", "bilinear", "trilinear")[len(shape) - 1]
    f = F.interpolate(f, size=size, mode=mode, align_corners=True)
    return f[(slice(None), slice(None), *[slice(0, m) for m in shape])]


class OutputNormalizer(nn.Module):
    """Decodes channel-major ``(C, batch, *s)`` network outputs by the training outputs'
    pointwise mean and standard deviation (identity until :meth:`fit`)."""

    def __init__(self, channels: int, shape: tuple[int, ...], periodic: tuple[bool, ...]):
        super().__init__()
        self.periodic = tuple(periodic)
        self.register_buffer("mean", torch.zeros(channels, 1, *shape))
        self.register_buffer("std", torch.ones(channels, 1, *shape))

    @torch.no_grad()
    def fit(self, y: torch.Tensor) -> None:
        """Statistics of training outputs ``(..., C, *shape)``, over every leading axis."""
        want = (self.mean.shape[0], *self.mean.shape[2:])
        if tuple(y.shape[-len(want):]) != want:
            raise ValueError(f"the normaliser decodes outputs of shape (C, *grid) = {want}, "
                             f"got training outputs of shape {tuple(y.shape)}")
        lead = tuple(range(y.ndim - len(want)))
        var, mean = torch.var_mean(y.to(self.mean), dim=lead)
        self.mean.copy_(mean.unsqueeze(1))
        self.std.copy_(var.sqrt().add_(EPS).unsqueeze(1))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean, self.std
        shape = tuple(v.shape[2:])
        if shape != tuple(mean.shape[2:]):
            mean, std = resample(mean, shape, self.periodic), resample(std, shape, self.periodic)
        return torch.addcmul(mean, v.to(mean.dtype), std)
