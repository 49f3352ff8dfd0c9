from __future__ import annotations

import copy

import torch
from pydantic import Field

from ganbench.tricks.base import StepContext, Trick, TrickParams, register


@register("ema")
class EMA(Trick):
    """Exponential moving average of G's weights (Yazici et al. 2019, "The Unusual
    Effectiveness of Averaging in GAN Training"): theta_ema <- d * theta_ema + (1 - d) * theta
    after every G step from `start`; evaluation and samples use the EMA generator."""

    paper = "Yazici et al. 2019, arXiv:1806.04498"
    vectorisable = True
    order = 90  # after tricks that build or wrap G

    class Params(TrickParams):
        decay: float = Field(0.999, gt=0, lt=1)
        start: int = Field(0, ge=0, description="G steps before averaging starts (copy until)")

    def build(self, g, d):
        self.g_ema = copy.deepcopy(g).requires_grad_(False)
        return g, d

    @torch.no_grad()
    def after_step(self, ctx: StepContext) -> None:
        decay = self.params.decay if ctx.step >= self.params.start else 0.0
        for p_ema, p in zip(self.g_ema.parameters(), ctx.g.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        # Batch-norm running statistics are copied, not averaged (they are estimates).
        for b_ema, b in zip(self.g_ema.buffers(), ctx.g.buffers(), strict=True):
            b_ema.copy_(b)

    def eval_generator(self, g):
        return self.g_ema

    def state_dict(self) -> dict:
        return {"g_ema": self.g_ema.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g_ema.load_state_dict(state["g_ema"])
