"""MLP generator and discriminator for 2-D mixtures (ring8, grid25)."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm1d, register_model

WIDTH, DEPTH = 128, 3


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_dim: int = 2, width: int = WIDTH, depth: int = DEPTH):
        super().__init__()
        layers: list[nn.Module] = []
        d = z_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, 2)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, d_norm: DNorm, in_dim: int = 2, width: int = WIDTH, depth: int = DEPTH,
                 minibatch_std: bool = False, pack: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim * pack  # pack: m samples concatenated (the pack trick)
        for i in range(depth):
            # No norm on the input layer (as in DCGAN's D): it would normalise the data away.
            layers += [nn.Linear(d, width), norm1d(d_norm, width) if i else nn.Identity()]
            layers.append(nn.LeakyReLU(0.2))
            d = width
        self.body = nn.Sequential(*layers)
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = nn.Linear(d + int(minibatch_std), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 2) -> (B,) logits
        return self.head(self.mbstd(self.body(x))).squeeze(1)


def build_mlp(z_dim: int, shape: tuple[int, ...], d_norm: DNorm, minibatch_std: bool = False,
              pack: int = 1):
    return MLPGenerator(z_dim, shape[0]), MLPDiscriminator(d_norm, shape[0],
                                                          minibatch_std=minibatch_std, pack=pack)


register_model(ModelSpec("mlp", "points", z_dim=16, image_size=None, d_norm="none",
                         build=build_mlp, packs_inputs=True))
