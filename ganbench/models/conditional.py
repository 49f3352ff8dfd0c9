"""Class-conditional parts (Miyato & Koyama 2018, cGAN-PD) and how labels reach the nets.

Labels are bound, not passed: the training step binds one (B,) label vector to G and D for
the duration of a D or G step (`bind_labels`), and every call of either net inside the step
(the adversarial passes, and any trick's `ctx.d(x)`: penalties on interpolates, augmented
copies) uses it. So no trick's signature carries labels. In a D step the reals are drawn for
uniformly drawn classes and the fakes are generated for the same classes, so one vector is
right for every D input of the step (an interpolate of real i and fake i has their class).

A conditional G called with no labels bound (evaluation, samples, a saved generator) takes
them from a hash of z (`labels_from_z`): uniform over the classes, the same for the same z,
and no draw from any RNG stream, so evaluating changes nothing in training.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

# Odd multipliers (< 2^31) for the hash of z; quantised z stays under 2^20 in magnitude, so
# a row's sum of products (< z_dim * 2^51) cannot overflow int64 for z_dim up to 4096.
_MULT, _INC = 2654435761, 40503


def labels_from_z(z: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(B, z) -> (B,) int64 classes: a deterministic pseudo-random function of each row,
    uniform over `n_classes` and (in practice) independent of z's values."""
    q = (z.detach().double() * 65536.0).round().clamp(-(2 ** 20), 2 ** 20).long()
    w = torch.arange(q.shape[1], device=q.device, dtype=torch.long) * _MULT + _INC
    h = (q * (w % (2 ** 31) | 1)).sum(1)
    h = h ^ (h >> 29)  # fold high bits into the low ones (no product: it could overflow)
    return (h ^ (h >> 13)).remainder(n_classes)


class Labelled(nn.Module):
    """A net that reads the labels bound to it (a conditional G or D)."""

    n_classes: int

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.bound: torch.Tensor | None = None  # a plain attribute: never saved or stacked

    def labels(self, n: int) -> torch.Tensor:
        y = self.bound
        if y is None:
            raise RuntimeError(f"{type(self).__name__} is class-conditional and was called "
                               "with no labels bound (train/step.py binds them per step)")
        if y.shape != (n,):
            raise RuntimeError(f"{n} inputs for {tuple(y.shape)} bound labels")
        return y


@contextmanager
def bind_labels(nets: Iterable[nn.Module], y: torch.Tensor | None) -> Iterator[None]:
    """Bind (B,) labels `y` to every conditional module inside `nets` for the block (no-op
    for None or unconditional nets)."""
    mods = [m for net in nets for m in net.modules() if isinstance(m, Labelled)] \
        if y is not None else []
    for m in mods:
        m.bound = y
    try:
        yield
    finally:
        for m in mods:
            m.bound = None


def bound_labels(net: nn.Module) -> torch.Tensor:
    """The labels bound to conditional `net` now (for a trick such as acgan)."""
    if not isinstance(net, Labelled):
        raise TypeError(f"{type(net).__name__} is not a class-conditional net")
    if net.bound is None:
        raise RuntimeError(f"no labels are bound to {type(net).__name__} (outside a step)")
    return net.bound


def is_conditional(net: nn.Module) -> bool:
    return isinstance(net, Labelled)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, then a per-class gain and bias (de Vries et al.
    2017; cGAN-PD's G). Gains start at 1 and biases at 0, so at init it is plain batch norm.
    The tables are plain parameters, not embeddings: spectral norm (on G) leaves them be."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Parameter(torch.ones(n_classes, channels))
        self.bias = nn.Parameter(torch.zeros(n_classes, channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.gain[y][:, :, None, None] * self.bn(x) + self.bias[y][:, :, None, None]


class Norm2d(nn.Module):
    """BatchNorm2d, or its class-conditional version when n_classes > 0; forward(x, y)."""

    def __init__(self, channels: int, n_classes: int = 0) -> None:
        super().__init__()
        self.norm = (ConditionalBatchNorm2d(channels, n_classes) if n_classes
                     else nn.BatchNorm2d(channels))
        self.conditional = bool(n_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.norm(x, y) if self.conditional else self.norm(x)


class Head(nn.Module):
    """D's output from pooled features h (B, C): linear(h), plus the projection <V y, h>
    (cGAN-PD) when n_classes > 0, plus an auxiliary classifier (B, K) when `aux` (acgan)."""

    def __init__(self, channels: int, n_classes: int = 0, projection: bool = True,
                 aux: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, 1)
        nn.init.xavier_uniform_(self.linear.weight)
        self.embed = None
        if n_classes and projection:
            self.embed = nn.Embedding(n_classes, channels)
            nn.init.xavier_uniform_(self.embed.weight)
        self.classifier = nn.Linear(channels, n_classes) if (aux and n_classes) else None

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out


__all__ = ["ConditionalBatchNorm2d", "Head", "Labelled", "Norm2d", "bind_labels",
           "bound_labels", "is_conditional", "labels_from_z"]
