"""Density and coverage (Naeem, Oh, Uh, Choi & Yoo, "Reliable Fidelity and Diversity Metrics
for Generative Models", ICML 2020, arXiv:2002.09797; the authors' code:
clovaai/generative-evaluation-prdc), with k = 5 nearest neighbours, the paper's setting.

Real features X (n, d), fake Y (m, d); r_k(x) = the distance from real x to its k-th nearest
real neighbour (itself excluded); B(x, r) the open ball (a strict `<`, as the authors' code):

    density  = 1/(k m) * sum_j sum_i 1[y_j in B(x_i, r_k(x_i))]   fidelity, in [0, n/k]
    coverage = 1/n * sum_i 1[exists j: y_j in B(x_i, r_k(x_i))]     diversity, in [0, 1]

For Y drawn from X's distribution E[density] = 1 exactly (a fake point is one of the k
nearest of x_i among the other n - 1 reals and itself with probability k/n), and
E[coverage] = 1 - prod_{i=1..k} (n - i)/(n + m - i) (the paper's Lemma 2; 1 - 1/2^k for
m = n large: 0.969 at k = 5). Density rewards fakes where real points crowd (a collapse onto
the modes' centres scores above 1) and drops for fakes far from every real point; coverage
counts the real neighbourhoods that have a fake point, so a dropped mode costs its share.

Distances are computed exactly (float64, each pair from its differences, never the
|x|^2 + |y|^2 - 2 x.y shortcut whose rounding depends on the block sizes), in blocks of rows
that hold at most `BLOCK` distances at once: 10k x 10k never needs the 800 MB matrix, and a
blocked result equals the unblocked one exactly. A fake point that is not finite (a diverged
G) lies in no ball: it lowers density and covers nothing. On data with repeated points (a
point mass) every radius is 0 and both metrics are 0 whatever G does.

Registered for 2-D runs that ask for them (`extra_metrics: [density, coverage]`; `points`
data, not the Dirac-GAN's, which has its own scorer): `density` and `coverage`, goal max, on
the evaluation's `eval_samples` generated points against as many real points drawn from the
dataset with a fixed seed (`REAL_SEED`, on the CPU): every run with the same `eval_samples`
is scored against the same real set.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np
import torch

from ganbench.metrics.base import MetricSpec, register_metric
from ganbench.registry import BUILT_IN, origin

K = 5  # the paper's recommended k (section 4: density and coverage with k = 5)
BLOCK = 2**23  # distances per block: 64 MiB of float64
REAL_SEED = 20200713  # the real reference draw of the registered metrics (fixed, CPU)


class DensityCoverage(NamedTuple):
    density: float
    coverage: float


def _features(x: Any, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dim() != 2:
        raise ValueError(f"density/coverage: {what} features must be a 2-D array (samples, "
                         f"features), not of shape {tuple(t.shape)}")
    return t.detach().to(torch.float64)


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"density/coverage: k must be a whole number >= 1 (the paper uses "
                         f"5), not {k!r}")
    if k >= n:
        raise ValueError(f"density/coverage: k = {k} needs more than k real samples (each "
                         f"real point's k-th nearest other real point), got n = {n}")
    return int(k)


def _rows(n_rows: int, n_cols: int, chunk: int | None) -> int:
    if chunk is None:
        return max(1, BLOCK // max(n_cols, 1))
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"density/coverage: chunk must be a whole number of rows >= 1, "
                         f"not {chunk!r}")
    return chunk


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Each entry from its own differences: independent of the block it is computed in.
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def real_radii(real: Any, k: int = K, chunk: int | None = None) -> torch.Tensor:
    """(n,) float64: each real point's distance to its k-th nearest other real point.

    Taken as the (k+1)-th smallest distance to every real point, itself included (0): a
    duplicate of a point counts as one of its neighbours, as in the authors' code."""
    x = _features(real, "real")
    k = _check_k(k, len(x))
    if not torch.isfinite(x).all():
        raise ValueError("density/coverage: the real features contain NaN or inf")
    rows = _rows(len(x), len(x), chunk)
    return torch.cat([_dist(x[i:i + rows], x).topk(k + 1, dim=1, largest=False).values[:, k]
                      for i in range(0, len(x), rows)])


def density_coverage(real: Any, fake: Any, k: int = K, chunk: int | None = None,
                     radii: torch.Tensor | None = None) -> DensityCoverage:
    """Density and coverage of `fake` (m, d) against `real` (n, d), numpy or torch, with
    k nearest neighbours. `chunk`: rows per block of distances (None: as many as keep a
    block at `BLOCK` distances). `radii`: `real_radii(real, k)`, when already computed."""
    x, y = _features(real, "real"), _features(fake, "fake")
    k = _check_k(k, len(x))
    if len(y) == 0:
        raise ValueError("density/coverage: no fake samples")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"density/coverage: real and fake features differ in size "
                         f"({x.shape[1]} vs {y.shape[1]})")
    r = real_radii(x, k, chunk) if radii is None else radii.to(torch.float64)
    if r.shape != (len(x),):
        raise ValueError(f"density/coverage: radii must have one entry per real sample "
                         f"({len(x)}), not shape {tuple(r.shape)}")
    y = y.to(x.device)
    r = r.to(x.device)
    inside = torch.zeros((), dtype=torch.int64, device=x.device)  # sum_j sum_i 1[...]
    covered = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    rows = _rows(len(y), len(x), chunk)
    for j in range(0, len(y), rows):
        hit = _dist(y[j:j + rows], x) < r  # (rows, n): fake j in real i's ball; NaN: False
        inside += hit.sum()
        covered |= hit.any(dim=0)
    return DensityCoverage(float(inside.item() / (k * len(y))),
                           float(covered.double().mean().item()))


def expected_coverage(n: int, m: int, k: int = K) -> float:
    """E[coverage] when the m fake points come from the n real points' distribution
    (Lemma 2): real x_i is uncovered iff its k nearest among the other n - 1 reals and the
    m fakes are all real."""
    p = 1.0
    for i in range(1, k + 1):
        p *= (n - i) / (n + m - i)
    return 1.0 - p


# ---------------------------------------------------------------- the registered metrics

# One run's real reference per (dataset, count): drawn and its radii found once, not at every
# evaluation. The entry keeps its dataset alive, so an id is never reused while it is here.
_REFERENCES: OrderedDict[tuple[int, int], tuple[Any, torch.Tensor, torch.Tensor]] = \
    OrderedDict()
# The last evaluation's result: density and coverage share one pass over the distances. It
# keeps its samples alive (so `is` cannot match a new tensor) and their version (in place).
_LAST: list[tuple[Any, int, Any, DensityCoverage]] = []


def real_reference(data: Any, n: int, k: int = K) -> tuple[torch.Tensor, torch.Tensor]:
    """(real points (n, d), their radii) for `data`: n points drawn on the CPU with
    `REAL_SEED`, the same on every device and in every run."""
    key = (id(data), n)
    if key not in _REFERENCES:
        gen = torch.Generator().manual_seed(REAL_SEED)
        real = data.to("cpu").sample(n, gen).to(torch.float64)
        _REFERENCES[key] = (data, real, real_radii(real, k))
        while len(_REFERENCES) > 4:
            _REFERENCES.popitem(last=False)
    _REFERENCES.move_to_end(key)
    _, real, radii = _REFERENCES[key]
    return real, radii


def _scores(samples: torch.Tensor, data: Any) -> DensityCoverage:
    if _LAST and _LAST[0][0] is samples and _LAST[0][1] == samples._version \
            and _LAST[0][2] is data:
        return _LAST[0][3]
    real, radii = real_reference(data, len(samples))
    out = density_coverage(real, samples.detach().cpu(), K, radii=radii)
    _LAST[:] = [(samples, samples._version, data, out)]
    return out


def density(samples: torch.Tensor, data: Any) -> float:
    """`density` of a run's evaluation samples against its dataset's fixed real draw."""
    return _scores(samples, data).density


def coverage(samples: torch.Tensor, data: Any) -> float:
    """`coverage` of a run's evaluation samples against its dataset's fixed real draw."""
    return _scores(samples, data).coverage


# On request (`extra_metrics: [density, coverage]`): each evaluation costs O(eval_samples^2)
# distances, and a run that does not ask logs what it always did.
with origin(BUILT_IN):
    register_metric(MetricSpec("density", "max", "points", low=0, compute=density,
                               on_request=True))
    register_metric(MetricSpec("coverage", "max", "points", low=0, high=1, compute=coverage,
                               on_request=True))
