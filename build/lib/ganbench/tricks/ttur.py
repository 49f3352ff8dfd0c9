from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from ganbench.tricks.base import OptimSpec, Trick, TrickParams, register


@register("ttur")
class TTUR(Trick):
    """Two time-scale update rule (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium"): D learns faster than G.

    Heusel et al. tuned the two rates per data set; the defaults here, d_lr 4e-4 and g_lr
    1e-4, are SAGAN's (Zhang et al. 2019, "Self-Attention Generative Adversarial Networks",
    arXiv:1805.08318), the setting most later work copies."""

    paper = "Heusel et al. 2017, arXiv:1706.08500; defaults: Zhang et al. 2019 (SAGAN)"
    vectorisable = True

    class Params(TrickParams):
        d_lr: float = Field(4e-4, gt=0, le=1)
        g_lr: float = Field(1e-4, gt=0, le=1)

    def optimizers(self, spec: OptimSpec) -> OptimSpec:
        return replace(spec, d_lr=self.params.d_lr, g_lr=self.params.g_lr)
