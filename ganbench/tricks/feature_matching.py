from __future__ import annotations

import torch
from pydantic import Field

from ganbench.models import MODELS
from ganbench.tricks.base import StepContext, Trick, TrickParams, register


@register("feature_matching")
class FeatureMatching(Trick):
    """Feature matching (Salimans et al. 2016, "Improved Techniques for Training GANs"):
    G also minimises ||E[f(x)] - E[f(G(z))]||^2, f = D's intermediate features. The real
    batch goes through the same D-input transforms as the fakes (instance noise,
    DiffAugment): D's features are matched on the inputs D actually sees."""

    paper = "Salimans et al. 2016, arXiv:1606.03498"
    vectorisable = True
    short = "fm"

    class Params(TrickParams):
        weight: float = Field(1.0, gt=0)

    def check(self, cfg):
        if MODELS.get(cfg.model).features is None:
            return [self.conflict(f"model {cfg.model!r} declares no D features (its spec's "
                                  "features is None)", "drop feature_matching for this model")]
        return []

    def g_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            f_real = ctx.d_features(ctx.d_input(ctx.sample_real())).flatten(1).mean(0)
        f_fake = ctx.d_features(ctx.fake).flatten(1).mean(0)
        return {"fm": self.params.weight * (f_real - f_fake).square().sum()}
