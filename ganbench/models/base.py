"""Model families: a registered ModelSpec builds a (G, D) pair for a data shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from ganbench.registry import Registry

DNorm = Literal["batch", "layer", "none"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    data_kind: Literal["points", "images"]
    z_dim: int  # default latent size
    image_size: int | None  # the nets' fixed image side; None = the data's own
    d_norm: DNorm  # default D normalisation
    # build(z_dim, data_shape, d_norm) -> (G, D); G maps (B, z) -> data, D maps data -> (B,) logits
    build: Callable[[int, tuple[int, ...], DNorm], tuple[nn.Module, nn.Module]]


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.register(spec.name)(spec)


def norm1d(kind: DNorm, width: int) -> nn.Module:
    return {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(kind, lambda _: nn.Identity())(
        width
    )


def norm2d(kind: DNorm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # LayerNorm over (C, H, W) per sample: GroupNorm with one group.
        return nn.GroupNorm(1, channels)
    return nn.Identity()
