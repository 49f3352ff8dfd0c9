"""Model families: a registered ModelSpec builds a (G, D) pair for a data shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import BaseModel
from torch import nn

from ganbench.registry import Registry

DNorm = Literal["batch", "layer", "none"]
# features(d, x) -> D's intermediate features of a batch x, (B, ...): what feature matching
# compares. Called on the D that trains (a stacked run's per-seed D included).
Features = Callable[[nn.Module, torch.Tensor], torch.Tensor]
# What ganbench itself passes to build (tricks, widths, conditional runs): a model's own
# options must not take these names, or one would silently override the other.
BUILD_KEYWORDS = frozenset({"minibatch_std", "pack", "g_width", "d_width", "n_classes",
                            "projection", "aux_classifier"})


def body_features(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The built-in nets' D is head(mbstd(body(x))): its features are body(x)."""
    return d.body(x)


@dataclass(frozen=True)
class ModelSpec:
    """What the rest of ganbench knows about a model family, without building it."""

    name: str
    data_kind: Literal["points", "images"]
    z_dim: int  # default latent size
    image_size: int | None  # the nets' fixed image side; None = the data's own
    d_norm: DNorm  # default D normalisation
    # build(z_dim, data_shape, d_norm, **options) -> (G, D); G maps (B, z) -> data, D maps
    # data -> (B,) logits. options: minibatch_std (bool); pack (int m, where packs_inputs:
    # D takes m samples concatenated along the feature/channel axis, the `pack` trick).
    build: Callable[..., tuple[nn.Module, nn.Module]]
    packs_inputs: bool = False  # build accepts pack=m (PacGAN's packed D)
    minibatch_std: bool = True  # build accepts minibatch_std=True (the minibatch_std trick)
    # How D exposes its features (feature matching); None: it does not, and asking for
    # feature matching on this model is a config error.
    features: Features | None = body_features
    # The nets vmap over seeds with per-seed results equal to the lone nets' (linear,
    # (transposed) conv, batch/layer/group norm, batch-statistics features, maxout;
    # train/vectorised.py; the contract test checks it). Off unless shown.
    stackable: bool = False
    # Class-conditional variant (models/conditional.py): build accepts n_classes=K (G with
    # conditional batch norm, D with a projection head), projection=False and
    # aux_classifier=True (the acgan trick's D), and D has .classify(x) -> (B, K).
    conditional: bool = False
    # Configurable widths: the defaults (G, D) of the reference layers build accepts as
    # g_width/d_width (None: fixed widths), and what each must be a multiple of (so that the
    # narrowest layer keeps a whole width).
    widths: tuple[int, int] | None = None
    width_multiple: tuple[int, int] = (1, 1)
    # G's images lie in the data's range [-1, 1] (a tanh or sigmoid output). False: G's
    # output is linear (R3GAN's, which has no tanh), so samples may leave the range; the
    # image metrics and sample grids clip them to it.
    bounded_output: bool = True
    # `model: {name: ..., key: value}`: the pydantic model (extra="forbid") of the options
    # build accepts as keywords (its defaults are build's); None = the model takes none.
    options: type | None = None

    def __post_init__(self) -> None:
        if self.data_kind not in ("points", "images"):
            raise ValueError(f"model {self.name!r}: data_kind must be 'points' or 'images', "
                             f"not {self.data_kind!r}")
        if not callable(self.build):
            raise ValueError(f"model {self.name!r}: build must be callable")
        if self.options is not None:
            self._check_options_schema()

    def _check_options_schema(self) -> None:
        opts = self.options
        if not (isinstance(opts, type) and issubclass(opts, BaseModel)):
            raise ValueError(f"model {self.name!r}: options must be a pydantic model (a "
                             f"BaseModel subclass) or None, not {opts!r}")
        if opts.model_config.get("extra") != "forbid":
            # otherwise a misspelt option would be dropped and the run silently differ
            raise ValueError(f"model {self.name!r}: options {opts.__name__} needs "
                             'model_config = ConfigDict(extra="forbid")')
        for field in opts.model_fields:
            if field in BUILD_KEYWORDS:
                raise ValueError(f"model {self.name!r}: option {field!r} is passed to build by "
                                 "ganbench itself (tricks, widths, conditional runs); name it "
                                 "otherwise")

    def checked_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        """`options` checked against the schema, with its defaults filled (JSON values):
        what build is given. ValidationError or ValueError for options it does not take."""
        if self.options is None:
            if options:
                raise ValueError(f"model {self.name!r} takes no options (got "
                                 f"{', '.join(sorted(options))}); write model: {self.name}")
            return {}
        return self.options.model_validate(dict(options or {})).model_dump(mode="json")

    def changed_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options that differ from the schema's defaults: what a run key records, so
        that a model which gains an option keeps the keys of the runs made before it."""
        if self.options is None:
            return dict(options)
        # (model_construct: a required option has no default and is always recorded)
        has_default = {k for k, f in self.options.model_fields.items() if not f.is_required()}
        defaults = self.options.model_construct().model_dump(mode="json", include=has_default)
        return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}


MODELS: Registry[ModelSpec] = Registry("model", base=ModelSpec)


def register_model(spec: ModelSpec) -> ModelSpec:
    """Register a model family (the spec's `name` is its name in run files)."""
    return MODELS.register(spec)


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


class MinibatchStd(nn.Module):
    """Karras et al. 2018: append the mean (over features) of the per-group std across the
    batch as one extra channel, so D can see a lack of variety. Groups of `group` samples
    (the whole batch when it does not divide)."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, ...) -> (B, C + 1, ...)
        b = x.shape[0]
        g = self.group if b % self.group == 0 else b
        y = x.reshape(g, b // g, *x.shape[1:])  # sample i is in group i % (b // g)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (b // g, C, ...)
        s = std.reshape(b // g, -1).mean(dim=1)  # one value per group
        s = s.repeat(g)  # back to (B,), same order as x
        feat = s.reshape(b, *([1] * (x.dim() - 1))).expand(b, 1, *x.shape[2:])
        return torch.cat([x, feat], dim=1)


def mbstd_layer(enabled: bool) -> nn.Module:
    return MinibatchStd() if enabled else nn.Identity()
