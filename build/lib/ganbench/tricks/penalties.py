"""Shared maths of gradient penalties: per-sample input-gradient norms of D."""

from __future__ import annotations

import torch


def input_grad_sq_norm(d: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||grad_x D(x)||^2 per sample, shape (B,), differentiable (create_graph)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad.flatten(1).square().sum(dim=1)


def batch_norm_caveat(trick, cfg) -> list:
    """Penalties on per-sample input gradients are blurred by batch norm in D (Kurach et al.
    2019 ablate exactly this pair, so it is a caveat, not a conflict)."""
    if cfg.d_norm == "batch":
        return [trick.caveat("batch norm in D mixes samples, so the per-sample gradient norm "
                             "is not per-sample any more", "d_norm: layer")]
    return []
