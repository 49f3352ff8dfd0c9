from __future__ import annotations

import torch
from pydantic import Field

from ganbench.models import MODELS
from ganbench.tricks.base import Trick, TrickParams, register


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, d...) -> (B/m, m*d, ...): consecutive groups of m samples become one D input
    (concatenated along features for points, along channels for images)."""
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


@register("pack")
class Pack(Trick):
    """Packing, PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative
    adversarial networks"): D judges m samples at once, all real or all generated, so a
    collapsed G is visible to D as a lack of variety within a packed input.

    A batch of B samples gives D B/m packed inputs (the loop draws batch_size samples; their
    code drew batch_size packed inputs, i.e. m x more samples per step). Targets are packed
    by their mean over each group (equal unless a target trick changed single samples).
    Penalties and D-calling terms (gradient penalty, R1, DRAGAN, bCR) act on the packed
    inputs, which is well defined: they regularise D on its own input space."""

    paper = "Lin et al. 2018, arXiv:1712.04086"
    vectorisable = True  # reshapes only; runs on each seed's slices
    order = 80  # after instance noise, DiffAugment and target tricks: they act per sample

    class Params(TrickParams):
        m: int = Field(2, ge=2, description="samples per packed D input")

    def check(self, cfg):
        m, out = self.params.m, []
        if cfg.batch_size % m:
            out.append(self.conflict(f"batch_size {cfg.batch_size} is not divisible by m = {m}",
                                     f"batch_size: {cfg.batch_size // m * m or m}"))
        spec = MODELS.get(cfg.model)
        if not spec.packs_inputs:
            out.append(self.conflict(f"model {cfg.model!r} cannot build a packed D "
                                     "(its spec has packs_inputs false)"))
        if cfg.conditional:
            out.append(self.conflict("a packed D input holds m samples of m classes, and a "
                                     "conditional D reads one label per input"))
        if "feature_matching" in cfg.tricks:
            # Its real features come from an unpacked fresh batch (sample_real), which a
            # packed D cannot take.
            out.append(self.conflict("feature_matching feeds D unpacked real samples"))
        return out

    def model_options(self, options):
        return {**options, "pack": self.params.m}

    def d_inputs(self, real, fake, step: int):
        m = self.params.m
        return (None if real is None else pack(real, m)), pack(fake, m)

    def d_targets(self, real_t, fake_t):
        m = self.params.m
        return real_t.reshape(-1, m).mean(1), fake_t.reshape(-1, m).mean(1)
