from __future__ import annotations

import torch
from pydantic import Field

from ganbench.losses import LOSSES
from ganbench.tricks.base import Trick, TrickParams, register


@register("label_noise")
class LabelNoise(Trick):
    """Noisy labels: each D target is flipped with probability `p`. A folk trick with no
    paper of its own: "occasionally flip the labels when training the discriminator", tip 6
    of Chintala, Denton, Arjovsky and Mathieu's "How to Train a GAN?" list (ganhacks, NIPS
    2016 workshop talk). Salimans et al. 2016 propose one-sided label *smoothing*
    (label_smoothing), not flips."""

    paper = "folk trick: ganhacks tip 6 (Chintala et al. 2016, github.com/soumith/ganhacks)"
    vectorisable = True  # its random draws use each seed's own global-RNG state
    short = "lnoise"
    order = 60  # after label smoothing: flips the (possibly smoothed) targets

    class Params(TrickParams):
        p: float = Field(0.05, gt=0, lt=0.5)

    def check(self, cfg):
        if not LOSSES.get(cfg.loss).uses_targets:
            return [self.conflict(f"label noise flips cross-entropy targets, but loss "
                                  f"{cfg.loss!r} has no targets", "use loss: ns or minimax")]
        return []

    def d_targets(self, real_t: torch.Tensor, fake_t: torch.Tensor):
        flip_r = torch.rand_like(real_t) < self.params.p
        flip_f = torch.rand_like(fake_t) < self.params.p
        return torch.where(flip_r, fake_t, real_t), torch.where(flip_f, real_t, fake_t)
