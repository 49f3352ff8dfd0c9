from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from ganbench.tricks.base import OptimSpec, Trick, TrickParams, register


@register("gradient_descent")
class GradientDescent(Trick):
    """Plain (stochastic) gradient descent for G and D instead of Adam, at the run's learning
    rates (`lr`, or a trick's such as TTUR's); `betas` are unused. Mescheder, Geiger &
    Nowozin 2018 ("Which Training Methods for GANs do actually Converge?") analyse GAN
    training as gradient descent without momentum (the Dirac-GAN, their Figure 1): the
    default momentum 0 is theirs."""

    paper = "Mescheder et al. 2018, arXiv:1801.04406"
    # the optimiser is built once with it
    fixed_params = frozenset({"momentum"})
    vectorisable = True
    canon = False  # an optimiser for known-answer models, not a trick to ablate

    class Params(TrickParams):
        momentum: float = Field(0.0, ge=0, lt=1)

    def optimizers(self, spec: OptimSpec) -> OptimSpec:
        return replace(spec, kind="sgd", momentum=self.params.momentum)
