"""The interval and the test every report table uses, on seed-level values.

- `t_ci`: Student-t 95% interval of a mean (coverage simulated in tests/unit/test_intervals.py);
- `sign_flip_p`: the exact paired permutation (sign-flip) test, valid for integer metrics with
  ties; `paired_delta` puts the two together for one comparison; `holm` adjusts a table's p.
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
INTERVAL = "95% t-CI"


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval of the mean over the last axis: mean ± t(1 − α/2, n − 1)·s/√n.
    Vectorised ((R, n) -> two (R,) arrays) so that its coverage can be simulated."""
    v = np.asarray(values, dtype=float)
    n = v.shape[-1]
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(axis=-1, ddof=1) / math.sqrt(n)
    m = v.mean(axis=-1)
    return m - half, m + half


def t_ci(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """`t_interval` of one sample, NaN values left out; NaN with fewer than 2 values; a
    point when every value agrees (the data show no spread to widen it by)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    lo, hi = t_interval(v, confidence)
    return float(lo), float(hi)


def _flips(n: int) -> np.ndarray:
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
    signs = _flips(d2.shape[1])
    obs = np.abs(d2.sum(axis=1))
    stat = np.abs(signs @ d2.T)  # (F, R)
    tol = 1e-9 * np.maximum(np.abs(d2).sum(axis=1), 1e-300)  # float round-off in the sums
    p = (stat >= obs[None, :] - tol[None, :]).mean(axis=0)
    return float(p[0]) if one else p


def min_p(n: int) -> float:
    """The smallest two-sided p the sign-flip test can give with n paired seeds."""
    return 1.0 if n < 1 else min(1.0, 2.0 ** (1 - n)) if n <= EXACT_MAX_N else 1 / MC_FLIPS


def seeds_needed(rows: int, alpha: float = ALPHA) -> int:
    """Paired seeds needed before the best row of a Holm table of `rows` rows can reach alpha."""
    n = 1
    while rows * min_p(n) > alpha and n <= EXACT_MAX_N:
        n += 1
    return n


def test_name(n: int) -> str:
    return TEST_NAME if n <= EXACT_MAX_N else MC_TEST_NAME


def paired_delta(ref: pd.Series, trt: pd.Series) -> dict:
    """treated − reference over the seeds both have a value for (Series indexed by seed):
    mean Δ, its paired t interval, and the sign-flip test's p."""
    both = pd.concat([ref.rename("r"), trt.rename("t")], axis=1).dropna()
    d = (both["t"] - both["r"]).to_numpy()
    n = len(d)
    out = {"n_pairs": n, "delta": d.mean() if n else math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "p": math.nan, "p_min": min_p(n), "test": test_name(n)}
    if n < 2:
        return out
    lo, hi = t_ci(d)
    return {**out, "ci_low": lo, "ci_high": hi, "p": sign_flip_p(d)}


def holm(p: pd.Series, alpha: float = ALPHA) -> tuple[pd.Series, pd.Series]:
    """Holm-adjusted p-values and significance over the finite ones (NaN stays NaN, False)."""
    adj, sig = pd.Series(math.nan, index=p.index), pd.Series(False, index=p.index)
    ok = p.notna()
    if ok.any():
        rej, padj, _, _ = multipletests(p[ok].to_numpy(), alpha=alpha, method="holm")
        adj[ok], sig[ok] = padj, rej
    return adj, sig
