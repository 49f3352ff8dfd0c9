from __future__ import annotations

import torch
from pydantic import Field

from ganbench.losses import LOSSES
from ganbench.tricks.base import Trick, TrickParams, register


@register("label_smoothing")
class LabelSmoothing(Trick):
    """One-sided label smoothing (Salimans et al. 2016, "Improved Techniques for Training
    GANs"): real targets become 0.9, fake targets stay 0 (smoothing fakes would reward D
    for leaving generated samples where they are)."""

    paper = "Salimans et al. 2016, arXiv:1606.03498"
    vectorisable = True
    short = "ls"

    class Params(TrickParams):
        real: float = Field(0.9, gt=0.0, le=1.0)

    def check(self, cfg):
        loss = LOSSES.get(cfg.loss)
        if not loss.uses_targets:
            return [
                self.conflict(
                    f"label smoothing changes cross-entropy targets, but loss {cfg.loss!r} "
                    "has no targets",
                    "use loss: ns or minimax",
                )
            ]
        if cfg.loss == "lsgan":
            return [self.caveat("with lsgan this shifts the regression target of real data")]
        return []

    def d_targets(self, real_t: torch.Tensor, fake_t: torch.Tensor):
        return torch.full_like(real_t, self.params.real), fake_t
