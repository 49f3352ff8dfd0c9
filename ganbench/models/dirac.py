"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do
actually Converge?", arXiv:1801.04406, section 2.2): G(z) = theta, D(x) = psi * x, no bias.

On data of d dimensions theta and psi are d-vectors (D(x) = psi . x); on the `dirac` data
(d = 1) this is the paper's model exactly, with its equilibrium at (theta, psi) = (0, 0).

Initialisation, per registered entry:
  dirac         theta0 = psi0 = 1: the start of the authors' notebook
                (LMescheder/GAN_stability, notebooks/DiracGAN.ipynb: theta0 = psi0 = 1,
                h = 0.2); every seed starts there (seeds change only a trick's noise);
  dirac_circle  a start on the circle of radius sqrt(2) (the paper's |(1, 1)|) at an angle
                drawn from the run's seed: seeds are initial points.
Another start: `register_model(dirac_spec("name", theta0=..., psi0=...))` in a plugin.

ganbench's sign convention differs from the paper's: D's logit is high on real data, so our
psi is the paper's -psi (the distance and the classification do not change).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, register_model


class DiracGenerator(nn.Module):
    def __init__(self, theta0: torch.Tensor) -> None:
        super().__init__()
        self.theta = nn.Parameter(theta0.clone().float())

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, d): theta for every z
        return self.theta.expand(z.shape[0], -1)


class DiracDiscriminator(nn.Module):
    def __init__(self, psi0: torch.Tensor) -> None:
        super().__init__()
        self.psi = nn.Parameter(psi0.clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, d) -> (B,) logits psi . x
        return (x * self.psi).sum(dim=1)


def _start(theta0: float | None, psi0: float | None, dim: int) -> tuple[torch.Tensor, ...]:
    if theta0 is not None and psi0 is not None:
        return torch.full((dim,), float(theta0)), torch.full((dim,), float(psi0))
    # Seeded start: an angle from the global RNG (seeded with the run's seed before build).
    angle = float(torch.rand(())) * 2 * math.pi
    r = math.sqrt(2.0)
    return torch.full((dim,), r * math.cos(angle)), torch.full((dim,), r * math.sin(angle))


def dirac_spec(name: str, theta0: float | None = 1.0, psi0: float | None = 1.0) -> ModelSpec:
    """A Dirac-GAN model entry starting at (theta0, psi0); both None: a start on the circle
    of radius sqrt(2) at an angle drawn from the run's seed."""

    def build(z_dim: int, shape: tuple[int, ...], d_norm: DNorm, minibatch_std: bool = False,
              pack: int = 1):
        if len(shape) != 1:
            raise ValueError(f"model {name!r}: needs points data (d,), not shape {shape}")
        if minibatch_std or pack != 1:
            raise ValueError(f"model {name!r}: D is psi . x; it has no minibatch_std or pack")
        theta, psi = _start(theta0, psi0, shape[0])
        return DiracGenerator(theta), DiracDiscriminator(psi)

    return ModelSpec(name, "points", z_dim=1, image_size=None, d_norm="none", build=build,
                     minibatch_std=False,
                     features=None)


register_model(dirac_spec("dirac"))
register_model(dirac_spec("dirac_circle", None, None))
