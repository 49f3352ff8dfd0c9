"""Statistics of a sweep: pure functions of a tidy runs table (report/frame.py, one protocol).

- ranked_table: per cell mean ± std over finished seeds and a Student-t 95% interval of the
  mean (`t_ci`; its coverage is checked by simulation in tests/unit/test_intervals.py: 95%
  on normal data at n = 3, 5, 10, within 2 points on moderately skewed data, worse on
  strongly skewed data — see the README). Rank = 1 + the number of cells whose t-CI lies
  entirely on the better side; cells without spread (floor / ceiling) are flagged.
- ablations: "baseline + X" and "all − X", paired by seed. One test for every row: the
  exact paired permutation (sign-flip) test on the seed differences (`sign_flip_p`), valid
  for integer metrics with ties; a paired t interval for Δ; Holm over the rows of a table.
- The factorial model lives in report/factorial.py.

Diverged runs have no metric value, and neither do finished runs whose final metric is
undefined (reverse KL with no high-quality sample): both are counted per cell and per
comparison, never averaged in and never silently dropped from the counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ganbench.report.frame import Factor, companions_of, costs_of, factors_of

ALPHA = 0.05
CONFIDENCE = 0.95
EXACT_MAX_N = 16  # all 2^n sign flips up to here (65,536); Monte Carlo above
MC_FLIPS = 20_000
MC_SEED = 0
TEST_NAME = "exact paired sign-flip"
MC_TEST_NAME = f"paired sign-flip (Monte Carlo, {MC_FLIPS:,} flips)"
INTERVAL = "95% t-CI"


def split_by_protocol(t: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Runs measured under different metric protocols are never compared: one group each."""
    groups = []
    for proto, g in t.groupby("protocol", sort=True, dropna=False):
        g = g.copy()
        g.attrs = dict(t.attrs)
        groups.append((str(proto), g))
    return groups


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


def _better(goal: str) -> int:
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")
    return 1 if goal == "max" else -1


# Bounds a metric cannot pass (None: open); observed extremes count as bounds too.
BOUNDS = {"modes": (0, None), "modes_hq": (0, None), "hq": (0, 1), "reverse_kl": (0, None)}


def spread_flags(t: pd.DataFrame) -> dict[str, str]:
    """cell -> 'floor' / 'ceiling' / 'no spread' for cells whose ≥ 2 defined values are all
    equal: at the metric's bound or the lowest / highest value any run reached, or elsewhere.
    Such cells add nothing to a pooled residual variance and get point intervals."""
    vals = t["value"].dropna()
    if vals.empty:
        return {}
    lo_b, hi_b = BOUNDS.get(str(t.attrs.get("metric")), (None, None))
    out = {}
    for cell, g in t.groupby("cell", sort=False):
        v = g["value"].dropna()
        if len(v) < 2 or v.nunique() > 1:
            continue
        x = v.iloc[0]
        if x == vals.min() or (lo_b is not None and x <= lo_b):
            out[cell] = "floor"
        elif x == vals.max() or (hi_b is not None and x >= hi_b):
            out[cell] = "ceiling"
        else:
            out[cell] = "no spread"
    return out


def ranked_table(t: pd.DataFrame, goal: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per cell (plan order kept for equal means), best first.

    rank = 1 + the number of cells whose t-CI lies entirely on the better side of this
    one's; cells whose intervals overlap share a rank (`tied`). Non-overlap of two 95%
    intervals is a stricter criterion than a 5% two-sample test (no multiplicity
    correction is applied). A cell with fewer than 2 values has no interval and no rank.
    Companion metrics (`<name>_mean`, `<name>_undefined`) and costs (`cost_<name>`) are
    means over the same finished runs.
    """
    sign = _better(goal)
    flags = spread_flags(t)
    rows = []
    for cell, g in t.groupby("cell", sort=False):
        fin = g["status"] == "finished"
        vals = g["value"].dropna().to_numpy()
        n_fin = int(fin.sum())
        n_div = int((g["status"] == "diverged").sum())
        lo, hi = t_ci(vals, confidence)
        row = {
            "cell": cell, "n_runs": len(g), "n_finished": n_fin, "n_diverged": n_div,
            "n_failed": len(g) - n_fin - n_div,
            "n_undefined": int((fin & g["value"].isna()).sum()),
            "failure_rate": n_div / (n_fin + n_div) if n_fin + n_div else math.nan,
            "mean": vals.mean() if len(vals) else math.nan,
            "std": vals.std(ddof=1) if len(vals) > 1 else math.nan,
            "ci_low": lo, "ci_high": hi, "spread": flags.get(cell, ""),
        }
        for m in companions_of(t):
            v = g.loc[fin, f"metric:{m}"]
            row[f"{m}_mean"] = v.mean() if v.notna().any() else math.nan
            row[f"{m}_undefined"] = int(v.isna().sum())
        for c in costs_of(t):
            v = g.loc[fin, f"cost:{c}"]
            row[f"cost_{c}"] = v.mean() if v.notna().any() else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    lo = (table["ci_low"] * sign).to_numpy()
    hi = (table["ci_high"] * sign).to_numpy()
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    ok = table["ci_low"].notna().to_numpy()
    table["rank"] = [1 + int(np.sum(ok & (lo > hi[i]))) if ok[i] else math.nan
                     for i in range(len(table))]
    counts = table["rank"].value_counts()
    table["tied"] = table["rank"].map(lambda r: bool(counts.get(r, 0) > 1) if r == r else False)
    table["_key"] = -sign * table["mean"]
    table = table.sort_values(["_key"], kind="stable", na_position="last").drop(columns="_key")
    table = table.reset_index(drop=True)
    table.attrs.update(metric=t.attrs.get("metric"), goal=goal, confidence=confidence,
                       companions=companions_of(t), costs=costs_of(t))
    return table


def _cells_by_levels(t: pd.DataFrame, factors: list[Factor]) -> dict[tuple, str]:
    names = [f.name for f in factors]
    return {tuple(r): c for c, r in zip(t["cell"], t[names].itertuples(index=False),
                                        strict=True)}


def ablations(t: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """'baseline + X' (each trick level alone vs no trick) and 'all − X' (every trick on vs
    the same without X), within each combination of non-trick axes. Δ = treated − reference;
    Holm over the rows of each table. Empty tables (design without those cells) are left out.
    """
    factors = factors_of(t)
    tricks = [f for f in factors if f.kind == "trick"]
    axes = [f for f in factors if f.kind == "axis"]
    if not tricks:
        return {}
    cells = _cells_by_levels(t, factors)
    names = [f.name for f in factors]
    contexts = list(dict.fromkeys(tuple(k[names.index(a.name)] for a in axes) for k in cells))
    rows: dict[str, list[dict]] = {"baseline + X": [], "all − X": []}

    def key(trick_levels: dict[str, str], ctx: tuple) -> tuple:
        axis_levels = dict(zip([a.name for a in axes], ctx, strict=True))
        return tuple(trick_levels.get(f.name, axis_levels.get(f.name)) for f in factors)

    for ctx in contexts:
        context = " ".join(f"{a.name}={v}" for a, v in zip(axes, ctx, strict=True))
        base = {f.name: f.reference for f in tricks}
        if key(base, ctx) in cells:
            for f in tricks:
                for lv in f.levels:
                    trt = key({**base, f.name: lv}, ctx)
                    if trt in cells:
                        rows["baseline + X"].append(
                            _compare(t, cells[key(base, ctx)], cells[trt], f.term(lv), context))
        if len(tricks) < 2:
            continue  # with one trick, "all − X" is "baseline + X" again
        alls = [k for k in cells
                if tuple(k[names.index(a.name)] for a in axes) == ctx
                and all(k[names.index(f.name)] != f.reference for f in tricks)]
        for k in alls:
            levels = {f.name: k[names.index(f.name)] for f in tricks}
            for f in tricks:
                ref = key({**levels, f.name: f.reference}, ctx)
                if ref in cells:
                    label = f.term(levels[f.name]) if len(alls) == 1 else \
                        f"{cells[k]} − {levels[f.name]}"
                    rows["all − X"].append(_compare(t, cells[ref], cells[k], label, context))
    out = {}
    for name, r in rows.items():
        if r:
            df = pd.DataFrame(r)
            df["p_holm"], df["significant"] = holm(df["p"])
            df.attrs.update(metric=t.attrs.get("metric"), table=name,
                            companions=companions_of(t))
            out[name] = df
    return out


def _compare(t: pd.DataFrame, ref: str, trt: str, term: str, context: str) -> dict:
    r, s = t[t["cell"] == ref], t[t["cell"] == trt]
    res = paired_delta(r.set_index("seed")["value"], s.set_index("seed")["value"])
    out = {"term": term, "context": context, "reference": ref, "treated": trt, **res,
           "ref_diverged": int((r["status"] == "diverged").sum()), "ref_n": len(r),
           "trt_diverged": int((s["status"] == "diverged").sum()), "trt_n": len(s)}
    for m in companions_of(t):  # beside Δ: the companion metric in both cells
        for side, g in (("ref", r), ("trt", s)):
            v = g.loc[g["status"] == "finished", f"metric:{m}"]
            out[f"{side}_{m}"] = v.mean() if v.notna().any() else math.nan
    return out
