from __future__ import annotations

import torch
from pydantic import Field

from ganbench.data import data_kind
from ganbench.tricks.augment import hflip, translation
from ganbench.tricks.base import StepContext, Trick, TrickParams, register


@register("consistency")
class BalancedConsistency(Trick):
    """Balanced consistency regularisation, bCR (Zhao et al. 2021, "Improved Consistency
    Regularization for GANs"): D must give the same output for an image and its augmented
    copy (flip + translation), on real and on fake images:
    lam_real * E[(D(x) - D(T(x)))^2] + lam_fake * E[(D(G(z)) - D(T(G(z))))^2]."""

    paper = "Zhao et al. 2021, arXiv:2002.04724"
    vectorisable = True  # its random draws use each seed's own global-RNG state
    short = "bcr"

    class Params(TrickParams):
        weight_real: float = Field(10.0, ge=0)
        weight_fake: float = Field(10.0, ge=0)

    def check(self, cfg):
        if data_kind(cfg.dataset) != "images":
            return [self.conflict("bCR augments images; dataset "
                                  f"{cfg.dataset!r} is 2-D points")]
        return []

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        t = lambda x: translation(hflip(x))  # noqa: E731
        p = self.params
        real_term = (ctx.d(t(ctx.real.detach())) - ctx.d_real).square().mean()
        fake_term = (ctx.d(t(ctx.fake.detach())) - ctx.d_fake).square().mean()
        return {"bcr": p.weight_real * real_term + p.weight_fake * fake_term}
