from __future__ import annotations

import torch
from pydantic import Field

from ganbench.tricks.base import StepContext, TimeConstant, Trick, TrickParams, register
from ganbench.tricks.penalties import batch_norm_caveat, input_grad_sq_norm


class _ZeroCentred(Trick):
    """gamma/2 * E[||grad D(x)||^2] on real (R1) or generated (R2) data, optionally lazy."""

    class Params(TrickParams):
        gamma: float = Field(10.0, gt=0)
        interval: int = Field(1, ge=1, description="apply every k-th D step, scaled by k")

    on = "real"
    vectorisable = True

    def __init__(self, params=None, cfg=None) -> None:
        super().__init__(params, cfg)
        self.d_calls = 0  # counts D steps (n_critic may run several per iteration)

    def check(self, cfg):
        return batch_norm_caveat(self, cfg)

    def time_constant(self, cfg) -> TimeConstant | None:
        k = self.params.interval
        if k == 1:
            return None
        # k D steps are at most k iterations (n_critic runs several D steps per iteration).
        return TimeConstant(k, f"interval {k} applies the penalty once every {k} D steps",
                            "a smaller interval or more steps")

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        self.d_calls += 1
        k = self.params.interval
        if (self.d_calls - 1) % k:
            # A zero term, not none: the loop logs a fixed set of terms per step (and the
            # window mean of k*value, 0, ..., 0 is the per-step penalty).
            return {self.name: ctx.d_fake.new_zeros(())}
        x = ctx.real if self.on == "real" else ctx.fake
        # Lazy regularisation (Karras et al. 2020): k times the weight, every k-th step.
        return {self.name: 0.5 * self.params.gamma * k * input_grad_sq_norm(ctx.d, x).mean()}

    def state_dict(self) -> dict:
        return {"d_calls": self.d_calls}  # where the lazy interval stands

    def load_state_dict(self, state: dict) -> None:
        self.d_calls = int(state["d_calls"])


@register("r1")
class R1(_ZeroCentred):
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
    zero-centred gradient penalty on real data, gamma/2 * E[||grad D(x_real)||^2]."""

    paper = "Mescheder et al. 2018, arXiv:1801.04406"
    on = "real"


@register("r2")
class R2(_ZeroCentred):
    """R2 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
    the zero-centred penalty on generated data, gamma/2 * E[||grad D(G(z))||^2]."""

    paper = "Mescheder et al. 2018, arXiv:1801.04406"
    on = "fake"
