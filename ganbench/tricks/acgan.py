from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from ganbench.models.conditional import bound_labels
from ganbench.tricks.base import StepContext, Trick, TrickParams, register


@register("acgan")
class ACGAN(Trick):
    """Auxiliary classifier GAN (Odena et al. 2017, "Conditional Image Synthesis with
    Auxiliary Classifier GANs"): D also predicts each input's class, and both nets minimise
    the classifier's cross-entropy, D on real and generated images (the paper's L_C) and G on
    generated ones: weight * CE(D_cls(x), y).

    It needs a class-conditional run (`conditional: true`: a G with conditional batch norm
    fed the labels). The trick gives D an auxiliary classifier head in place of the
    projection (`model_options`), so D's adversarial output reads no labels, as in the
    paper. The labels are the ones the step binds (models/conditional.py): in a D step the
    real batch's, for which its fakes were generated too; in a G step the fakes' own."""

    paper = "Odena et al. 2017, arXiv:1610.09585"
    short = "ac"
    conditional_only = True
    # Labels are bound to each seed's nets, which stacked seeds do not run.
    vectorisable = False

    class Params(TrickParams):
        weight: float = Field(1.0, gt=0, description="weight of the classifier's loss")
        on_fakes: bool = Field(True, description="D's loss classifies fakes too (the paper)")

    def check(self, cfg):
        if not cfg.conditional:
            return [self.conflict("acgan classifies by class: it needs a class-conditional "
                                  "run", "conditional: true, on a labelled dataset")]
        return []

    def model_options(self, options):
        return {**options, "aux_classifier": True, "projection": False}

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        y = bound_labels(ctx.d)
        loss = F.cross_entropy(ctx.d.classify(ctx.real.detach()), y)
        if self.params.on_fakes:
            loss = loss + F.cross_entropy(ctx.d.classify(ctx.fake.detach()), y)
        return {"ac": self.params.weight * loss}

    def g_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        y = bound_labels(ctx.d)
        return {"ac": self.params.weight * F.cross_entropy(ctx.d.classify(ctx.fake), y)}
