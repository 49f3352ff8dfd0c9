from __future__ import annotations

import copy

import torch
from pydantic import Field

from ganbench.tricks.base import StepContext, TimeConstant, Trick, TrickParams, register


@register("ema")
class EMA(Trick):
    """Exponential moving average of G's weights (Yazici et al. 2019, "The Unusual
    Effectiveness of Averaging in GAN Training"): theta_ema <- d_t * theta_ema + (1 - d_t) *
    theta after every G step; evaluation and samples use the EMA generator.

    Until step `start` the average copies G. From there, with `warmup` (the default), the
    decay ramps up as TensorFlow's ExponentialMovingAverage does with num_updates:
    d_t = min(decay, (1 + t) / (10 + t)), t = steps since `start`. A run shorter than the
    horizon 1/(1 - decay) then averages its recent weights instead of keeping most of the
    initial ones (decay 0.999 with no warm-up keeps 0.999^500 = 61% of them after 500
    steps; with it, under 1e-18). The ramp reaches 0.999 after ~9,000 steps, when the
    weights it set carry 0.999^(T - 9000) of the average: long runs are the paper's.
    `warmup: false` is the plain average of the paper."""

    paper = "Yazici et al. 2019, arXiv:1806.04498"
    vectorisable = True
    order = 90  # after tricks that build or wrap G

    class Params(TrickParams):
        decay: float = Field(0.999, gt=0, lt=1)
        start: int = Field(0, ge=0, description="G steps before averaging starts (copy until)")
        warmup: bool = Field(True, description="decay min(decay, (1+t)/(10+t)) from start")

    def decay_at(self, step: int) -> float:
        """The decay applied after G step `step` (0 = copy G)."""
        t = step - self.params.start
        if t < 0:
            return 0.0
        if self.params.warmup:
            return min(self.params.decay, (1 + t) / (10 + t))
        return self.params.decay

    def time_constant(self, cfg) -> TimeConstant:
        horizon = 1.0 / (1.0 - self.params.decay)
        return TimeConstant(
            horizon + self.params.start,
            f"decay {self.params.decay:g} averages over ~{horizon:.0f} steps"
            + (f" from step {self.params.start} (~{horizon + self.params.start:.0f} in all)"
               if self.params.start else ""),
            "a smaller decay or a longer run (the warm-up keeps the average off the initial "
            "weights, but the run ends before the decay is reached)" if self.params.warmup else
            "warmup: true or a smaller decay (the average keeps much of the initial weights)")

    def build(self, g, d):
        self.g_ema = copy.deepcopy(g).requires_grad_(False)
        return g, d

    @torch.no_grad()
    def after_step(self, ctx: StepContext) -> None:
        decay = self.decay_at(ctx.step)
        for p_ema, p in zip(self.g_ema.parameters(), ctx.g.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        # Batch-norm running statistics are copied, not averaged (they are estimates).
        for b_ema, b in zip(self.g_ema.buffers(), ctx.g.buffers(), strict=True):
            b_ema.copy_(b)

    def eval_generator(self, g):
        return self.g_ema

    # The decay depends only on the loop's step, which the checkpoint carries: no counter.
    def state_dict(self) -> dict:
        return {"g_ema": self.g_ema.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g_ema.load_state_dict(state["g_ema"])
