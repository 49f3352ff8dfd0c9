from __future__ import annotations

from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.tricks.base import Trick, TrickParams, register

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(net: nn.Module, n_power_iterations: int, eps: float) -> nn.Module:
    """Reparametrise W as W / sigma(W) on every linear/conv layer (sigma by power iteration)."""
    for module in list(net.modules()):
        if isinstance(module, _WEIGHTED):
            spectral_norm(module, n_power_iterations=n_power_iterations, eps=eps)
    return net


@register("spectral_norm")
class SpectralNorm(Trick):
    """Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative
    Adversarial Networks"): each D weight is divided by its largest singular value, making
    every layer 1-Lipschitz."""

    paper = "Miyato et al. 2018, arXiv:1802.05957"
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
