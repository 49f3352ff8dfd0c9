from __future__ import annotations

from ganbench.tricks.base import Trick, TrickParams, register


@register("minibatch_std")
class MinibatchStd(Trick):
    """Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs"):
    D's last block gets one extra channel holding the batch's average feature std, so D can
    tell a collapsed batch from a varied one."""

    paper = "Karras et al. 2018, arXiv:1710.10196"
    vectorisable = True
    short = "mbstd"

    class Params(TrickParams):
        pass

    def check(self, cfg):
        from ganbench.models import MODELS

        if cfg.model in MODELS and not MODELS.get(cfg.model).minibatch_std:
            return [self.conflict(f"model {cfg.model!r} cannot add a minibatch-std feature "
                                  "to D (its spec has minibatch_std false)")]
        return []

    def model_options(self, options):
        return {**options, "minibatch_std": True}
