"""Exact mode-collapse metrics for 2-D Gaussian mixtures (VEEGAN / PacGAN definitions).

A sample is high-quality if it lies within 3 std of its nearest mode; a mode is covered if at
least one high-quality sample is nearest to it; reverse KL is KL(p_hq || uniform) where p_hq
is the histogram of high-quality samples over modes.
"""

from __future__ import annotations

import math

import torch


def mode_metrics(samples: torch.Tensor, modes: torch.Tensor, std: float) -> dict[str, float]:
    """samples (N, 2), modes (K, 2) -> {modes, hq, reverse_kl}.

    reverse_kl is NaN when no sample is high-quality: the histogram is then undefined, and
    a number would pretend otherwise.
    """
    samples = samples.detach().float().cpu()
    modes = modes.float().cpu()
    dist = torch.cdist(samples, modes)  # (N, K)
    nearest_d, nearest = dist.min(dim=1)
    hq = nearest_d <= 3.0 * std
    counts = torch.bincount(nearest[hq], minlength=len(modes)).double()
    n_hq = counts.sum().item()
    if n_hq > 0:
        p = counts / n_hq
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * len(modes)).log()).sum())
    else:
        reverse_kl = math.nan
    return {
        "modes": int((counts > 0).sum()),
        "hq": float(hq.double().mean()),
        "reverse_kl": reverse_kl,
    }
