"""The Dirac-GAN's metrics (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs
do actually Converge?", arXiv:1801.04406, section 2.2): real data a point mass at 0,
G(z) = theta, D(x) = psi * x, equilibrium (theta, psi) = (0, 0).

Read through the nets' outputs, not their parameters, so that any model on the `dirac` data
is scored the same way: theta = mean of G(z), psi = D(1) - D(0) (D's slope).

Logged at every evaluation: `dirac_theta`, `dirac_psi` (the trajectory; no goal), `dirac_dist`
= sqrt(theta^2 + psi^2) (goal min) and `dirac_trend` (goal min: 0 converges, 1 circles,
2 diverges; the word is the `dirac.trend` tag), classified from the distances of the
evaluations so far by `dirac_trend()`. The history lives in the run's scorer: a run resumed
from a checkpoint classifies from the evaluations after the resume only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ganbench.metrics.base import MetricSpec, register_metric, register_scorer
from ganbench.registry import BUILT_IN, origin

TRENDS = ("converges", "circles", "diverges")
NEAR = 0.05  # a distance below this (3.5% of the paper's start, |(1, 1)|) counts as arrived
FACTOR = 2.0  # last quarter vs third quarter: shrunk or grown by this much is a trend


def dirac_trend(distances: Sequence[float], near: float = NEAR, factor: float = FACTOR) -> str:
    """'converges', 'circles' or 'diverges' from a run's distances to the equilibrium at its
    evaluations (in order, evenly spaced), judged on the second half of them:

    converges: the last quarter's mean is below `near` (at the equilibrium, up to the noise
      of a stochastic method such as instance noise), or at most 1/`factor` of the third
      quarter's (a linear rate);
    diverges: a distance is not finite, or (not near) the last quarter's mean is `factor`
      times the third quarter's or more;
    circles: neither (the distance stays where it was, within a factor of 2: a cycle, or a
      drift too slow to call, such as a 1/sqrt(t) decay).
    """
    d = [float(x) for x in distances]
    if not d:
        raise ValueError("dirac_trend needs at least one distance")
    if not all(math.isfinite(x) for x in d):
        return "diverges"
    n = len(d)
    third = d[n // 2: max(3 * n // 4, n // 2 + 1)]
    last = d[3 * n // 4:] or d[-1:]
    a, b = sum(third) / len(third), sum(last) / len(last)
    if b < near or b <= a / factor:
        return "converges"
    if b >= factor * a:
        return "diverges"
    return "circles"


class DiracScore:
    """One run's scorer (`Dataset.scorer`): theta, psi, distance and trend of (G, D)."""

    def __init__(self) -> None:
        self.distances: list[float] = []

    @torch.no_grad()
    def __call__(self, g: torch.nn.Module, d: torch.nn.Module, z: torch.Tensor
                 ) -> tuple[dict[str, float], dict[str, str]]:
        theta = float(g(z).double().mean())
        x = z.new_tensor([[1.0], [0.0]])
        out = d(x).double()
        psi = float(out[0] - out[1])
        dist = math.hypot(theta, psi)
        self.distances.append(dist)
        trend = dirac_trend(self.distances)
        return ({"dirac_theta": theta, "dirac_psi": psi, "dirac_dist": dist,
                 "dirac_trend": float(TRENDS.index(trend))}, {"dirac.trend": trend})


with origin(BUILT_IN):
    register_metric(MetricSpec("dirac_dist", "min", "points", datasets=("dirac",), low=0))
    register_metric(MetricSpec("dirac_trend", "min", "points", datasets=("dirac",), low=0,
                               high=len(TRENDS) - 1, integer=True))
register_scorer("dirac", DiracScore)
