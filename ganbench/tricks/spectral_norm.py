from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import _SpectralNorm, spectral_norm

from ganbench.tricks.base import Trick, TrickParams, register

# Embeddings too: a projection D's class embedding is normalised in cGAN-PD (a conditional
# G's batch-norm gains are plain parameter tables, so `on_g` leaves them be).
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(net: nn.Module, n_power_iterations: int, eps: float) -> nn.Module:
    """Reparametrise W as W / sigma(W) on every linear/conv/embedding layer (sigma by power
    iteration)."""
    for module in list(net.modules()):
        if isinstance(module, _WEIGHTED):
            spectral_norm(module, n_power_iterations=n_power_iterations, eps=eps)
    return net


class _VmapSpectralNorm(_SpectralNorm):
    """torch's spectral norm with its power iteration written without `out=` (which vmap
    cannot batch): the same arithmetic, then copied into the (per-seed) buffers."""

    @torch.no_grad()
    def _power_method(self, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps))


@register("spectral_norm")
class SpectralNorm(Trick):
    """Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative
    Adversarial Networks"): each D weight is divided by its largest singular value, making
    every layer 1-Lipschitz."""

    paper = "Miyato et al. 2018, arXiv:1802.05957"
    # wrapped into D's layers when they are built
    fixed_params = frozenset({"eps"})
    vectorisable = True
    short = "sn"
    order = 10  # before anything that wraps or copies the nets

    class Params(TrickParams):
        n_power_iterations: int = Field(1, ge=1)
        eps: float = Field(1e-12, gt=0)
        on_g: bool = False  # also normalise G (SAGAN does)

    def build(self, g, d):
        p = self.params
        d = apply_spectral_norm(d, p.n_power_iterations, p.eps)
        if p.on_g:
            g = apply_spectral_norm(g, p.n_power_iterations, p.eps)
        return g, d

    def stacked_template(self, net: nn.Module) -> nn.Module:
        # The power-iteration vectors u, v are buffers: per-seed slices of stacked ones.
        for m in net.modules():
            if type(m) is _SpectralNorm:
                m.__class__ = _VmapSpectralNorm
        return net
