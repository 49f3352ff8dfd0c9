"""The interval and the test every report table uses, on seed-level values.

- `t_ci`: Student-t 95% interval of a mean, kept inside the metric's range, and never a point:
  a sample without spread gets the "rule of three" interval (coverage simulated in
  tests/unit/report/test_intervals.py);
- `sign_flip_p`: the exact paired permutation (sign-flip) test, valid for integer metrics with
  ties; `paired_delta` puts the two together for one comparison; `holm` adjusts a family's p;
  `pairwise` runs the test over every pair of cells (the ranks' family).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05
CONFIDENCE = 0.95
EXACT_MAX_N = 16  # all 2^n sign flips up to here (65,536); Monte Carlo above
MC_FLIPS = 20_000
MC_SEED = 0
TEST_NAME = "exact paired sign-flip"
MC_TEST_NAME = f"paired sign-flip (Monte Carlo, {MC_FLIPS:,} flips)"
INTERVAL = "95% CI"


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval of the mean over the last axis: mean ± t(1 − α/2, n − 1)·s/√n.
    Vectorised ((R, n) -> two (R,) arrays) so that its coverage can be simulated."""
    v = np.asarray(values, dtype=float)
    n = v.shape[-1]
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(axis=-1, ddof=1) / math.sqrt(n)
    m = v.mean(axis=-1)
    return m - half, m + half


Bounds = tuple[float, float]  # the range a mean can lie in (±inf: open)
OPEN: Bounds = (-math.inf, math.inf)


def unseen_share(n: int, confidence: float = CONFIDENCE) -> float:
    """The largest share of a distribution that n draws miss with probability ≥ 1 − confidence:
    q with (1 − q)^n = 1 − confidence (the "rule of three": about 3/n at 95%)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / n)


def bounded_interval(values, confidence: float = CONFIDENCE, bounds: Bounds = OPEN,
                     ends: Bounds | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The report's interval of a mean over the last axis ((R, n) -> two (R,) arrays, so that
    its coverage can be simulated): `t_interval` clipped to `bounds` (a mean cannot leave the
    metric's range). Where every value of a row agrees, the t interval would be a point, yet
    up to `unseen_share(n)` of the distribution may lie elsewhere unseen (at 3 seeds: 63%):
    the interval then reaches that share of the way to each end of the range, [x − q(x − lo),
    x + q(hi − x)], `ends` where given (an open side of `bounds` closed at the most extreme
    value seen), else `bounds` (a point only on an open side)."""
    v = np.asarray(values, dtype=float)
    lo, hi = bounds
    lo_b, hi_b = ends if ends is not None else bounds
    clip_lo, clip_hi = lo, hi
    with np.errstate(invalid="ignore"):
        lo, hi = t_interval(v, confidence)
    lo, hi = np.maximum(lo, clip_lo), np.minimum(hi, clip_hi)
    flat = np.all(v == v[..., :1], axis=-1)
    if np.any(flat):
        x, q = v[..., 0], unseen_share(v.shape[-1], confidence)
        with np.errstate(invalid="ignore"):
            wlo = np.where(np.isfinite(lo_b), x - q * (x - lo_b), x)
            whi = np.where(np.isfinite(hi_b), x + q * (hi_b - x), x)
        lo, hi = np.where(flat, wlo, lo), np.where(flat, whi, hi)
    return lo, hi


def t_ci(values, confidence: float = CONFIDENCE, bounds: Bounds = OPEN,
         ends: Bounds | None = None) -> tuple[float, float]:
    """`bounded_interval` of one sample, NaN values left out; NaN with fewer than 2 values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    lo, hi = bounded_interval(v, confidence, bounds, ends)
    return float(lo), float(hi)


def difference_bounds(bounds: Bounds) -> Bounds:
    """The range of a difference of two values in `bounds`."""
    lo, hi = bounds
    return lo - hi, hi - lo


def sign_vectors(n: int) -> np.ndarray:
    """(F, n) signs: every one of the 2^n sign vectors, or MC_FLIPS seeded random ones
    (the identity first, so a Monte Carlo p is never 0)."""
    if n <= EXACT_MAX_N:
        codes = np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]
        return 1.0 - 2.0 * (codes & 1)
    rng = np.random.default_rng(MC_SEED)
    signs = rng.choice([-1.0, 1.0], size=(MC_FLIPS, n))
    signs[0] = 1.0
    return signs


def sign_flip_p(d) -> np.ndarray | float:
    """Two-sided p of the paired permutation test of 'mean difference = 0'.

    d: (n,) differences, or (R, n) for R tables at once (simulations). Under the null each
    difference is as likely + as −, so p = the share of sign vectors ε with
    |Σ εᵢdᵢ| ≥ |Σ dᵢ|. Exact for n ≤ 16; it needs no normality and ties cost nothing, and it
    is monotone: moving every difference further in the direction of their mean never
    raises p. All-zero differences give p = 1; the smallest p n pairs allow is 2^(1−n).
    """
    d = np.asarray(d, dtype=float)
    one = d.ndim == 1
    d2 = d[None, :] if one else d
    signs = sign_vectors(d2.shape[1])
    obs = np.abs(d2.sum(axis=1))
    stat = np.abs(signs @ d2.T)  # (F, R)
    tol = 1e-9 * np.maximum(np.abs(d2).sum(axis=1), 1e-300)  # float round-off in the sums
    p = (stat >= obs[None, :] - tol[None, :]).mean(axis=0)
    return float(p[0]) if one else p


def min_p(n: int) -> float:
    """The smallest two-sided p the sign-flip test can give with n paired seeds whose
    differences are not zero (a zero difference flips to itself and adds no evidence)."""
    return 1.0 if n < 1 else min(1.0, 2.0 ** (1 - n)) if n <= EXACT_MAX_N else 1 / MC_FLIPS


def seeds_needed(rows: int, alpha: float = ALPHA) -> int:
    """Paired seeds with a nonzero difference needed before the best row of a Holm family of
    `rows` rows can reach alpha."""
    n = 1
    while rows * min_p(n) > alpha and n <= EXACT_MAX_N:
        n += 1
    return n


def test_name(n: int) -> str:
    return TEST_NAME if n <= EXACT_MAX_N else MC_TEST_NAME


def paired_delta(ref: pd.Series, trt: pd.Series, bounds: Bounds = OPEN,
                 ends: Bounds | None = None) -> dict:
    """treated − reference over the seeds both have a value for (Series indexed by seed):
    mean Δ, its paired interval (`t_ci` of the differences, inside the range a difference of
    values in `bounds` can take), and the sign-flip test's p. `p_min` counts only the pairs
    whose difference is not zero (`n_zero` of them are)."""
    both = pd.concat([ref.rename("r"), trt.rename("t")], axis=1).dropna()
    d = (both["t"] - both["r"]).to_numpy()
    n, zeros = len(d), int(np.sum(d == 0))
    out = {"n_pairs": n, "n_zero": zeros, "delta": d.mean() if n else math.nan,
           "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "p_min": min_p(n - zeros),
           "test": test_name(n)}
    if n < 2:
        return out
    lo, hi = t_ci(d, bounds=difference_bounds(bounds),
                  ends=difference_bounds(ends) if ends is not None else None)
    return {**out, "ci_low": lo, "ci_high": hi, "p": sign_flip_p(d)}


def pairwise(values: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of columns (cells) of a seed × cell table: the sign-flip test on the seeds
    both have, Holm over all the pairs (the family the ranks are drawn from). Rows: a, b,
    n_pairs, delta (b − a), p, p_holm, significant. Pairs with fewer than 2 seeds in common
    have no p and count in no family."""
    cols = list(values.columns)
    v = values.to_numpy(dtype=float).T  # (cells, seeds)
    ia, ib = np.triu_indices(len(cols), k=1)
    d = v[ib] - v[ia]  # (pairs, seeds); NaN where either cell lacks the seed
    ok = np.isfinite(d)
    n = ok.sum(axis=1)
    p = np.full(len(d), math.nan)
    # Pairs sharing the same seeds are tested together (one matrix product per seed set).
    masks = {}
    for k in np.flatnonzero(n >= 2):
        masks.setdefault(ok[k].tobytes(), []).append(k)
    for ks in masks.values():
        p[ks] = sign_flip_p(d[ks][:, ok[ks[0]]])
    with np.errstate(invalid="ignore"):
        delta = np.where(n > 0, np.nansum(np.where(ok, d, 0.0), axis=1) / np.maximum(n, 1),
                         math.nan)
    rows = {"a": [cols[i] for i in ia], "b": [cols[j] for j in ib], "n_pairs": n,
            "delta": delta, "p": p}
    out = pd.DataFrame(rows, columns=["a", "b", "n_pairs", "delta", "p"])
    out["p_holm"], out["significant"] = holm(out["p"], alpha)
    return out


def holm(p: pd.Series, alpha: float = ALPHA) -> tuple[pd.Series, pd.Series]:
    """Holm-adjusted p-values and significance over the finite ones (NaN stays NaN, False)."""
    adj, sig = pd.Series(math.nan, index=p.index), pd.Series(False, index=p.index)
    ok = p.notna()
    if ok.any():
        rej, padj, _, _ = multipletests(p[ok].to_numpy(), alpha=alpha, method="holm")
        adj[ok], sig[ok] = padj, rej
    return adj, sig
