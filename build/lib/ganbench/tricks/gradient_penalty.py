from __future__ import annotations

import torch
from pydantic import Field

from ganbench.tricks.base import StepContext, Trick, TrickParams, register
from ganbench.tricks.penalties import batch_norm_caveat


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x_hat = e * real + (1 - e) * fake with one e ~ U[0,1] per sample."""
    e = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return (e * real + (1 - e) * fake).requires_grad_(True)


def grad_norm(d: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-sample ||grad_x D(x)||_2, shape (B,), differentiable (create_graph)."""
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


@register("gradient_penalty")
class GradientPenalty(Trick):
    """WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"):
    weight * E[(||grad D(x_hat)|| - 1)^2] on random interpolates of real and fake."""

    paper = "Gulrajani et al. 2017, arXiv:1704.00028"
    vectorisable = True  # its random draws use each seed's own global-RNG state
    short = "gp"

    class Params(TrickParams):
        weight: float = Field(10.0, gt=0)
        one_sided: bool = False  # penalise only norms above 1 (max(0, ||g|| - 1)^2)

    def check(self, cfg):
        return batch_norm_caveat(self, cfg)

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        x_hat = interpolate(ctx.real.detach(), ctx.fake.detach())
        gap = grad_norm(ctx.d, x_hat) - 1.0
        if self.params.one_sided:
            gap = gap.clamp(min=0.0)
        return {"gp": self.params.weight * gap.square().mean()}
