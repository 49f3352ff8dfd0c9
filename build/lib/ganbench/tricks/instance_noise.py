from __future__ import annotations

import torch
from pydantic import Field

from ganbench.tricks.base import Trick, TrickParams, register


@register("instance_noise")
class InstanceNoise(Trick):
    """Instance noise (Sønderby et al. 2017, "Amortised MAP Inference for Image
    Super-resolution"): Gaussian noise on D's real and fake inputs, its std annealed
    linearly from `std` to 0 over `anneal` of the run, making the distributions overlap.
    The annealing is a fraction of the run, so it ends inside any run: unlike EMA's decay
    it has no horizon to outgrow a short run (no `time_constant`)."""

    paper = "Sønderby et al. 2017, arXiv:1610.04490"
    vectorisable = True  # its random draws use each seed's own global-RNG state
    short = "inoise"
    order = 20  # before augmentations

    class Params(TrickParams):
        std: float = Field(0.1, gt=0)
        anneal: float = Field(1.0, gt=0, le=1, description="fraction of steps to reach 0")

    def sigma(self, step: int) -> float:
        total = self.cfg.steps if self.cfg is not None else 1
        return self.params.std * max(0.0, 1.0 - step / (self.params.anneal * total))

    def d_inputs(self, real, fake, step: int):
        s = self.sigma(step)
        if s == 0.0:
            return real, fake
        noisy = lambda x: None if x is None else x + s * torch.randn_like(x)  # noqa: E731
        return noisy(real), noisy(fake)
