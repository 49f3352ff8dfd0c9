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

    def model_options(self, options):
        return {**options, "minibatch_std": True}
