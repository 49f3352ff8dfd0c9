from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from ganbench.tricks.base import StepContext, TimeConstant, Trick, TrickParams, register


@register("lecam")
class LeCam(Trick):
    """LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial
    Networks under Limited Data"): keeps D's outputs near moving anchors,
    lam * (E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2]), where a_real and a_fake
    are exponential moving averages of D's mean output on real and fake data.

    This is the form of the authors' code (google/lecam-gan, lecam_loss.py): ReLU-squared,
    so only outputs past the other side's anchor are penalised. The paper's equation is the
    plain square, E[||D(x) - a_fake||^2] + E[||D(G(z)) - a_real||^2]."""

    paper = "Tseng et al. 2021, arXiv:2104.03310"
    vectorisable = True

    class Params(TrickParams):
        weight: float = Field(0.3, gt=0)
        decay: float = Field(0.99, gt=0, lt=1)

    def __init__(self, params=None, cfg=None) -> None:
        super().__init__(params, cfg)
        self.anchor_real: torch.Tensor | None = None
        self.anchor_fake: torch.Tensor | None = None

    def time_constant(self, cfg) -> TimeConstant:
        horizon = 1.0 / (1.0 - self.params.decay)  # in D steps: at most as many iterations
        return TimeConstant(horizon, f"anchor decay {self.params.decay:g} averages D's outputs "
                            f"over ~{horizon:.0f} D steps", "a smaller decay")

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_m, fake_m = ctx.d_real.detach().mean(), ctx.d_fake.detach().mean()
        if self.anchor_real is None:
            self.anchor_real, self.anchor_fake = real_m, fake_m
        else:
            self.anchor_real = torch.lerp(real_m, self.anchor_real, self.params.decay)
            self.anchor_fake = torch.lerp(fake_m, self.anchor_fake, self.params.decay)
        reg = (F.relu(ctx.d_real - self.anchor_fake).square().mean()
               + F.relu(self.anchor_real - ctx.d_fake).square().mean())
        return {"lecam": self.params.weight * reg}

    def state_dict(self) -> dict:
        # None until D's first step (the first step sets the anchors instead of averaging).
        return {"anchor_real": self.anchor_real, "anchor_fake": self.anchor_fake}

    def load_state_dict(self, state: dict) -> None:
        self.anchor_real, self.anchor_fake = state["anchor_real"], state["anchor_fake"]
