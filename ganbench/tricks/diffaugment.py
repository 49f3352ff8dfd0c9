from __future__ import annotations

from pydantic import field_validator

from ganbench.data import data_kind
from ganbench.tricks.augment import AUGMENTS, augment_list
from ganbench.tricks.base import Trick, TrickParams, register


@register("diffaugment")
class DiffAugment(Trick):
    """Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for
    Data-Efficient GAN Training"): the same family of random transforms on real and fake
    images whenever D sees them, in D and G steps, so gradients flow through to G."""

    paper = "Zhao et al. 2020, arXiv:2006.10738"
    vectorisable = True  # its random draws use each seed's own global-RNG state
    short = "daug"
    order = 30  # after instance noise

    class Params(TrickParams):
        policy: str = "color,translation,cutout"

        @field_validator("policy")
        @classmethod
        def _known(cls, v: str) -> str:
            return augment_list(v)

    def check(self, cfg):
        if data_kind(cfg.dataset) != "images":
            return [self.conflict("DiffAugment transforms images; dataset "
                                  f"{cfg.dataset!r} is 2-D points")]
        return []

    def augment(self, x):
        for name in self.params.policy.split(","):
            x = AUGMENTS[name](x)
        return x

    def d_inputs(self, real, fake, step: int):
        aug = lambda x: None if x is None else self.augment(x)  # noqa: E731
        return aug(real), aug(fake)
