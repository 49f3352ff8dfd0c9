from __future__ import annotations

from pydantic import Field

from ganbench.tricks.base import Trick, TrickParams, register


@register("n_critic")
class NCritic(Trick):
    """Several D (critic) steps per G step, as in WGAN practice (Arjovsky et al. 2017,
    "Wasserstein GAN"; Gulrajani et al. 2017 use 5)."""

    paper = "Arjovsky et al. 2017, arXiv:1701.07875"
    vectorisable = True
    short = "nc"

    class Params(TrickParams):
        steps: int = Field(5, ge=1, le=100)

    def d_steps(self) -> int:
        return self.params.steps
