"""PacGAN's 2-D nets (Lin et al. 2018; their released configs for the ring and grid runs).

G: z (2-D standard normal) -> 4 x [Linear(400, no bias) -> BatchNorm -> ReLU] -> Linear(2).
D: 3 maxout layers (200 units, 5 pieces) -> Linear(1). Weights N(0, 0.02), biases 0.
With `pack=m`, D's input is m samples concatenated (m * 2 values), as in their code.
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm1d, register_model

G_WIDTH, G_DEPTH = 400, 4
D_WIDTH, D_DEPTH, PIECES = 200, 3, 5
INIT_STD = 0.02


def pacgan_init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, INIT_STD)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class Maxout(nn.Module):
    """Goodfellow et al. 2013: the max over `pieces` linear maps, (B, in) -> (B, out)."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int) -> None:
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Consecutive groups of `pieces` outputs form one unit (Blocks' LinearMaxout).
        return self.linear(x).unflatten(-1, (self.out_dim, self.pieces)).amax(-1)


class PacGANGenerator(nn.Module):
    def __init__(self, z_dim: int = 2, out_dim: int = 2, width: int = G_WIDTH,
                 depth: int = G_DEPTH) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = z_dim
        for _ in range(depth):
            # No bias before batch norm (it would be cancelled by the norm's shift).
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)
        self.apply(pacgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, 2)
        return self.net(z)


class PacGANDiscriminator(nn.Module):
    def __init__(self, d_norm: DNorm, in_dim: int = 2, width: int = D_WIDTH,
                 depth: int = D_DEPTH, pieces: int = PIECES, minibatch_std: bool = False,
                 pack: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim * pack
        for i in range(depth):
            # Their D has no norm (d_norm none); other settings norm every layer but the first.
            layers += [Maxout(d, width, pieces), norm1d(d_norm, width) if i else nn.Identity()]
            d = width
        self.body = nn.Sequential(*layers)
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = nn.Linear(d + int(minibatch_std), 1)
        self.apply(pacgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, m * 2) -> (B,) logits
        return self.head(self.mbstd(self.body(x))).squeeze(1)


def build_pacgan(z_dim: int, shape: tuple[int, ...], d_norm: DNorm,
                 minibatch_std: bool = False, pack: int = 1):
    return PacGANGenerator(z_dim, shape[0]), PacGANDiscriminator(
        d_norm, shape[0], minibatch_std=minibatch_std, pack=pack)


register_model(ModelSpec("pacgan", "points", z_dim=2, image_size=None, d_norm="none",
                         build=build_pacgan, packs_inputs=True))
