"""Exact mode-collapse metrics for 2-D Gaussian mixtures (VEEGAN / PacGAN definitions).

A sample is high-quality if it lies within 3 std of its nearest mode; a mode is covered if at
least one high-quality sample is nearest to it; reverse KL is KL(p_hq || uniform) where p_hq
is the histogram of high-quality samples over modes.

`mode_score` (the default ranking metric for 2-D mixtures) is modes + hq, hq as a share in
[0, 1]: lexicographic in coverage, then quality, with no cliff. A run that covers more modes
always scores higher (a covered mode needs a high-quality sample, so hq > 0 whenever modes
> 0), a dead or collapsed run always ranks below a run with more modes at any quality, and
a loss of quality at equal coverage still moves it continuously. It does not hide noise:
uniform noise over grid25's square covers ~22 of 25 modes with ~2% high-quality samples and
scores ~22.02, so hq is shown beside it and cells below HQ_MIN are flagged as not converged.

`modes_hq` (the default before mode_score) counts the covered modes only when at least
HQ_MIN of the samples are high-quality, else 0: it has a cliff at HQ_MIN (a run at 49% hq
scores as a dead run) and is kept for sweep files that ask for it.
"""

from __future__ import annotations

import math

import torch

from ganbench.metrics.base import MetricSpec, register_metric
from ganbench.registry import BUILT_IN, origin

HQ_MIN = 0.5  # modes_hq: the share of high-quality samples a run needs for its modes to count


def gate_modes(modes: float, hq: float, hq_min: float = HQ_MIN) -> int:
    """modes_hq from a run's modes and hq: the modes when hq >= hq_min, else 0."""
    return int(modes) if hq >= hq_min else 0


def mode_metrics(samples: torch.Tensor, modes: torch.Tensor, std: float) -> dict[str, float]:
    """samples (N, 2), modes (K, 2) -> {modes, modes_hq, hq, reverse_kl}.

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
    covered, share = int((counts > 0).sum()), float(hq.double().mean())
    return {"modes": covered, "modes_hq": gate_modes(covered, share), "hq": share,
            "reverse_kl": reverse_kl, "mode_score": mode_score(covered, share)}


def mode_score(modes: float, hq: float) -> float:
    """mode_score from a run's modes and hq (a share in [0, 1]): modes + hq."""
    return float(modes) + float(hq)


# What mode_metrics logs for every 2-D run (no image_metrics entry, no count in the name).
with origin(BUILT_IN):
    register_metric(MetricSpec("mode_score", "max", "points", low=0, high_over_classes=1))
    register_metric(MetricSpec("modes", "max", "points", low=0, integer=True,
                               high_over_classes=0))
    register_metric(MetricSpec("modes_hq", "max", "points", low=0, integer=True,
                               high_over_classes=0))
    register_metric(MetricSpec("hq", "max", "points", low=0, high=1))
    register_metric(MetricSpec("reverse_kl", "min", "points", low=0))
