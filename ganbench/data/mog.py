"""2-D Gaussian mixtures used to measure mode collapse (VEEGAN / PacGAN definitions).

ring8:  8 modes at angles 2*pi*i/8 on the unit circle, std 0.01.
grid25: 25 modes at {-4,-2,0,2,4}^2, std 0.05.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ganbench.data.base import Dataset, DatasetSpec, register_dataset


def ring_modes(k: int = 8, radius: float = 1.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_modes(values: tuple[float, ...] = (-4, -2, 0, 2, 4)) -> torch.Tensor:
    v = torch.tensor(values, dtype=torch.float32)
    return torch.cartesian_prod(v, v)


def load_ring8(root: Path) -> Dataset:
    return Dataset("ring8", "points", "synthetic", modes=ring_modes(), mode_std=0.01)


def load_grid25(root: Path) -> Dataset:
    return Dataset("grid25", "points", "synthetic", modes=grid_modes(), mode_std=0.05)


register_dataset(DatasetSpec("ring8", "points", load_ring8, shape=(2,), classes=8,
                             source="synthetic: 8 Gaussians on the unit circle, std 0.01"))
register_dataset(DatasetSpec("grid25", "points", load_grid25, shape=(2,), classes=25,
                             source="synthetic: 25 Gaussians on {-4,-2,0,2,4}^2, std 0.05"))
