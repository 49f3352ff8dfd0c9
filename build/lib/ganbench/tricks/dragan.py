from __future__ import annotations

import torch
from pydantic import Field

from ganbench.tricks.base import StepContext, Trick, TrickParams, register
from ganbench.tricks.gradient_penalty import grad_norm
from ganbench.tricks.penalties import batch_norm_caveat


@register("dragan")
class DRAGAN(Trick):
    """DRAGAN (Kodali et al. 2017, "On Convergence and Stability of GANs"): the WGAN-GP
    penalty lam * E[(||grad D(x_hat)|| - 1)^2] around perturbed real data,
    x_hat = x + a * delta with delta ~ c * std(x) * U[0, 1), a ~ U[0, 1).

    The perturbation is the authors' code's (github.com/kodalinaveen3/DRAGAN: the batch plus
    0.5 * its std * uniform [0, 1) noise, then a random point on the segment): one-sided,
    every coordinate pushed up. The paper writes a Gaussian, x + delta, delta ~ N(0, cI)."""

    paper = "Kodali et al. 2017, arXiv:1705.07215"
    vectorisable = True  # its random draws use each seed's own global-RNG state

    class Params(TrickParams):
        weight: float = Field(10.0, gt=0)
        c: float = Field(0.5, gt=0, description="perturbation scale in units of data std")

    def check(self, cfg):
        return batch_norm_caveat(self, cfg)

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        x = ctx.real.detach()
        delta = self.params.c * x.std() * torch.rand_like(x)
        a = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device)
        x_hat = (x + a * delta).requires_grad_(True)
        return {"dragan": self.params.weight * (grad_norm(ctx.d, x_hat) - 1).square().mean()}
