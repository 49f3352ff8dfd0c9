"""DCGAN (Radford et al. 2016) in two sizes.

dcgan64: the seed document's network (pytorch/examples' dcgan, ngf = ndf = 64, z = 100):
five transposed convs 1 -> 4 -> 8 -> 16 -> 32 -> 64. Its published code unsqueezed z twice
and fed 28x28 digits to 64x64 nets; here G takes z as (B, z) and data are resized to 64.
dcgan28: the same design sized for native 28x28 images (7 -> 14 -> 28), fast on CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm2d, register_model


def dcgan_init(m: nn.Module) -> None:
    """DCGAN paper init: conv weights N(0, 0.02); norm scales N(1, 0.02), shifts 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _up(cin: int, cout: int, stride: int = 2, pad: int = 1) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(True)]


def _down(cin: int, cout: int, d_norm: DNorm) -> list[nn.Module]:
    # A conv followed by a norm needs no bias; with no norm it does.
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=d_norm == "none"), norm2d(d_norm, cout),
            nn.LeakyReLU(0.2, True)]


class DCGAN64Generator(nn.Module):
    def __init__(self, z_dim: int = 100, channels: int = 1, ngf: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            *_up(z_dim, ngf * 8, stride=1, pad=0),  # 1 -> 4
            *_up(ngf * 8, ngf * 4),  # 8
            *_up(ngf * 4, ngf * 2),  # 16
            *_up(ngf * 2, ngf),  # 32
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False),  # 64
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, 64, 64)
        return self.net(z[:, :, None, None])


class DCGAN64Discriminator(nn.Module):
    def __init__(self, d_norm: DNorm, channels: int = 1, ndf: int = 64,
                 minibatch_std: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 32
            *_down(ndf, ndf * 2, d_norm),  # 16
            *_down(ndf * 2, ndf * 4, d_norm),  # 8
            *_down(ndf * 4, ndf * 8, d_norm),  # 4
        )
        self.mbstd = mbstd_layer(minibatch_std)
        # 1x1 logit, no sigmoid
        self.head = nn.Conv2d(ndf * 8 + int(minibatch_std), 1, 4, 1, 0, bias=False)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 64, 64) -> (B,)
        return self.head(self.mbstd(self.body(x))).flatten()


class DCGAN28Generator(nn.Module):
    def __init__(self, z_dim: int = 64, channels: int = 1, width: int = 64):
        super().__init__()
        self.width = width
        self.fc = nn.Sequential(nn.Linear(z_dim, 2 * width * 7 * 7, bias=False),
                                nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(True))
        self.net = nn.Sequential(
            *_up(2 * width, width),  # 7 -> 14
            nn.ConvTranspose2d(width, channels, 4, 2, 1),  # 28
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, 28, 28)
        return self.net(self.fc(z).view(-1, 2 * self.width, 7, 7))


class DCGAN28Discriminator(nn.Module):
    def __init__(self, d_norm: DNorm, channels: int = 1, width: int = 64,
                 minibatch_std: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 14
            *_down(width, 2 * width, d_norm),  # 7
        )
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = nn.Linear((2 * width + int(minibatch_std)) * 7 * 7, 1)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 28, 28) -> (B,)
        return self.head(self.mbstd(self.body(x)).flatten(1)).squeeze(1)


def _builder(g_cls, d_cls):
    def build(z_dim, shape, d_norm, minibatch_std: bool = False, pack: int = 1):
        # pack: D sees m images stacked along channels (the pack trick).
        return g_cls(z_dim, shape[0]), d_cls(d_norm, shape[0] * pack,
                                             minibatch_std=minibatch_std)

    return build


register_model(ModelSpec("dcgan64", "images", z_dim=100, image_size=64, d_norm="batch",
                         build=_builder(DCGAN64Generator, DCGAN64Discriminator), packs_inputs=True,
                         stackable=True))
register_model(ModelSpec("dcgan28", "images", z_dim=64, image_size=28, d_norm="batch",
                         build=_builder(DCGAN28Generator, DCGAN28Discriminator), packs_inputs=True,
                         stackable=True))
