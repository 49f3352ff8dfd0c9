"""An example ganbench plugin: one trick (the drift penalty) and one 2-D dataset (ring16).

Importing the module registers both; ganbench imports it from the `ganbench.plugins` entry
point (once installed), from GANBENCH_PLUGINS=ganbench_ring16, or from `plugins:` in a file.
"""

from __future__ import annotations

import torch
from pydantic import Field

from ganbench.data.base import Dataset, register_dataset
from ganbench.data.mog import ring_modes
from ganbench.tricks.base import StepContext, Trick, TrickParams
from ganbench.tricks.base import register as register_trick


@register_trick("drift")
class Drift(Trick):
    """The drift penalty of Karras et al. 2018 ("Progressive Growing of GANs", sec. A.1):
    weight * E[D(x)^2] on real logits keeps D's output from drifting far from zero, which a
    Wasserstein critic is otherwise free to do."""

    paper = "Karras et al. 2018, arXiv:1710.10196"
    short = "drift"
    vectorisable = True  # a function of one seed's logits only

    class Params(TrickParams):
        weight: float = Field(0.001, gt=0)

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"drift": self.params.weight * ctx.d_real.pow(2).mean()}


@register_dataset("ring16", kind="points")
def load_ring16(root) -> Dataset:
    """16 modes evenly spaced on a circle of radius 2, std 0.02 (a harder ring8)."""
    return Dataset("ring16", "points", "synthetic", modes=ring_modes(16, radius=2.0),
                   mode_std=0.02)
