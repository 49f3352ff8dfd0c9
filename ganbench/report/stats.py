"""Statistics of a sweep: pure functions of a tidy runs table (report/frame.py, one protocol).

- ranked_table: per cell mean ± std over finished seeds, a BCa bootstrap 95% CI of the mean
  (scipy.stats.bootstrap), finished / diverged counts, and a rank that only separates cells
  whose CIs do not overlap.
- ablations: "baseline + X" and "all − X", paired by seed; paired t-test (Student), Holm.
- factorial: OLS (statsmodels) on trick indicators (0 = off, 1 = on) and their pairwise
  products, with seed as a block; t-based CIs, Holm-corrected p-values.

Diverged runs have no metric value: they are counted per cell and per comparison, never
averaged in and never silently dropped from the counts.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ganbench.report.frame import Factor, factors_of

ALPHA = 0.05
CONFIDENCE = 0.95
NO_VARIANCE = "exact sign-flip"  # the test used when every paired difference is the same


def split_by_protocol(t: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Runs measured under different metric protocols are never compared: one group each."""
    groups = []
    for proto, g in t.groupby("protocol", sort=True, dropna=False):
        g = g.copy()
        g.attrs = dict(t.attrs)
        groups.append((str(proto), g))
    return groups


def bootstrap_ci(values, confidence: float = CONFIDENCE, n_resamples: int = 9999,
                 seed: int = 0) -> tuple[float, float]:
    """BCa bootstrap CI of the mean; (v, v) when all values agree, NaN with fewer than 2."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    if np.ptp(v) == 0:  # BCa is undefined on constant data; the mean has no spread to show
        return float(v[0]), float(v[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's acceleration warns on tiny, tied samples
        for method in ("BCa", "percentile"):
            ci = stats.bootstrap((v,), np.mean, confidence_level=confidence, method=method,
                                 n_resamples=n_resamples, random_state=seed).confidence_interval
            if np.isfinite(ci.low) and np.isfinite(ci.high):
                break
    return float(ci.low), float(ci.high)


def _better(goal: str) -> int:
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")
    return 1 if goal == "max" else -1


def ranked_table(t: pd.DataFrame, goal: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per cell (plan order kept for equal means), best first.

    rank = 1 + the number of cells whose CI lies entirely on the better side of this one's,
    so cells whose CIs overlap the leader's share rank 1; `tied` marks a shared rank. With
    one finished seed a cell has no CI and is compared by its value.
    """
    sign = _better(goal)
    rows = []
    for cell, g in t.groupby("cell", sort=False):
        vals = g["value"].dropna().to_numpy()
        n_fin = int((g["status"] == "finished").sum())
        n_div = int((g["status"] == "diverged").sum())
        lo, hi = bootstrap_ci(vals, confidence)
        rows.append({
            "cell": cell, "n_runs": len(g), "n_finished": n_fin, "n_diverged": n_div,
            "n_failed": len(g) - n_fin - n_div,
            "failure_rate": n_div / (n_fin + n_div) if n_fin + n_div else math.nan,
            "mean": vals.mean() if len(vals) else math.nan,
            "std": vals.std(ddof=1) if len(vals) > 1 else math.nan,
            "ci_low": lo, "ci_high": hi,
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # Compare intervals on a "higher is better" scale.
    lo = np.where(table["ci_low"].notna(), table["ci_low"], table["mean"]) * sign
    hi = np.where(table["ci_high"].notna(), table["ci_high"], table["mean"]) * sign
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    ok = table["mean"].notna().to_numpy()
    table["rank"] = [1 + int(np.sum(ok & (lo > hi[i]))) if ok[i] else math.nan
                     for i in range(len(table))]
    counts = table["rank"].value_counts()
    table["tied"] = table["rank"].map(lambda r: bool(counts.get(r, 0) > 1) if r == r else False)
    table["_key"] = -sign * table["mean"]
    table = table.sort_values(["_key"], kind="stable", na_position="last").drop(columns="_key")
    table = table.reset_index(drop=True)
    table.attrs.update(metric=t.attrs.get("metric"), goal=goal, confidence=confidence)
    return table


def paired_delta(ref: pd.Series, trt: pd.Series) -> dict:
    """treated − reference over the seeds both finished (Series indexed by seed).

    Paired t-test and its t interval; when every difference is the same (common with integer
    metrics such as modes) the t statistic is infinite, so the exact sign-flip test is used.
    """
    both = pd.concat([ref.rename("r"), trt.rename("t")], axis=1).dropna()
    d = (both["t"] - both["r"]).to_numpy()
    n = len(d)
    out = {"n_pairs": n, "delta": d.mean() if n else math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "p": math.nan, "test": "—"}
    if n < 2:
        return out
    if np.ptp(d) == 0:
        p = 1.0 if d[0] == 0 else min(1.0, 2.0 ** (1 - n))  # all 2^n sign flips; 2 as extreme
        return {**out, "ci_low": d[0], "ci_high": d[0], "p": p, "test": NO_VARIANCE}
    r = stats.ttest_rel(both["t"], both["r"])
    ci = r.confidence_interval(CONFIDENCE)
    return {**out, "ci_low": float(ci.low), "ci_high": float(ci.high), "p": float(r.pvalue),
            "test": "paired t"}


def holm(p: pd.Series, alpha: float = ALPHA) -> tuple[pd.Series, pd.Series]:
    """Holm-adjusted p-values and significance over the finite ones (NaN stays NaN, False)."""
    adj, sig = pd.Series(math.nan, index=p.index), pd.Series(False, index=p.index)
    ok = p.notna()
    if ok.any():
        rej, padj, _, _ = multipletests(p[ok].to_numpy(), alpha=alpha, method="holm")
        adj[ok], sig[ok] = padj, rej
    return adj, sig


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
            df.attrs.update(metric=t.attrs.get("metric"), table=name)
            out[name] = df
    return out


def _compare(t: pd.DataFrame, ref: str, trt: str, term: str, context: str) -> dict:
    r, s = t[t["cell"] == ref], t[t["cell"] == trt]
    res = paired_delta(r.set_index("seed")["value"], s.set_index("seed")["value"])
    return {"term": term, "context": context, "reference": ref, "treated": trt, **res,
            "ref_diverged": int((r["status"] == "diverged").sum()), "ref_n": len(r),
            "trt_diverged": int((s["status"] == "diverged").sum()), "trt_n": len(s)}


@dataclass
class Factorial:
    table: pd.DataFrame  # term, kind, estimate, ci_low, ci_high, p, p_holm, significant
    interactions: bool  # False: main effects only (aliased or absent interactions)
    n_used: int
    df_resid: float
    notes: list[str] = field(default_factory=list)


def _full_rank(x: pd.DataFrame) -> bool:
    return np.linalg.matrix_rank(x.to_numpy(dtype=float)) == x.shape[1]


def factorial(t: pd.DataFrame) -> Factorial | None:
    """Main effects of every factor level and pairwise interactions, seed as a block.

    Coding: 0 = reference (trick off), 1 = on, so a main effect is the change from turning
    that trick on in the baseline and an interaction is the change beyond the sum of the
    two main effects. When the cells cannot separate the interactions (fractional designs
    of resolution < V: aliased), main effects only are fitted, each then averaged over the
    other tricks. None when not even that is estimable.
    """
    data = t[t["value"].notna()].reset_index(drop=True)
    notes, mains = [], {}
    for f in factors_of(t):
        for lv in f.levels:
            col = (data[f.name] == lv).astype(float)
            if 0 < col.sum() < len(col):
                mains[f.term(lv)] = (f.name, col)
            else:
                notes.append(f"{f.term(lv)}: no finished runs on both levels; not estimable")
    if not mains:
        return None
    inter = {}
    for (a, (fa, ca)), (b, (fb, cb)) in itertools.combinations(mains.items(), 2):
        if fa != fb:
            if (ca * cb).sum() > 0:
                inter[f"{a} × {b}"] = ca * cb
            else:
                notes.append(f"{a} × {b}: never combined in a finished run; not estimable")
    blocks = pd.get_dummies(data["seed"], prefix="seed", drop_first=True, dtype=float)
    x_main = pd.concat([pd.Series(1.0, index=data.index, name="const"),
                        pd.DataFrame({k: c for k, (_, c) in mains.items()})], axis=1)
    x = pd.concat([x_main, pd.DataFrame(inter, index=data.index), blocks], axis=1)
    with_inter = bool(inter) and _full_rank(x) and len(x) > x.shape[1]
    if not with_inter:
        if inter:
            notes.append("pairwise interactions are aliased with each other or with main "
                         "effects in these cells: main effects only")
        x = pd.concat([x_main, blocks], axis=1)
        if not (_full_rank(x) and len(x) > x.shape[1]):
            return None
    fit = sm.OLS(data["value"].to_numpy(dtype=float), x).fit()
    terms = list(mains) + (list(inter) if with_inter else [])
    ci = fit.conf_int(alpha=1 - CONFIDENCE)
    table = pd.DataFrame({
        "term": terms,
        "kind": ["main"] * len(mains) + ["interaction"] * (len(terms) - len(mains)),
        "estimate": [fit.params[k] for k in terms],
        "ci_low": [ci.loc[k, 0] for k in terms], "ci_high": [ci.loc[k, 1] for k in terms],
        "p": [fit.pvalues[k] for k in terms],
    })
    if fit.mse_resid <= 1e-12 * max(float(np.var(data["value"])), 1e-300):
        table["p"] = math.nan  # a perfect fit: no noise left to test against
        notes.append("the model fits the runs exactly: no residual variation, tests undefined")
    table["p_holm"], table["significant"] = holm(table["p"])
    table.attrs.update(metric=t.attrs.get("metric"))
    return Factorial(table, with_inter, len(data), float(fit.df_resid), notes)


def effect_sentences(fx: Factorial, metric: str) -> list[str]:
    """One sentence per significant effect: 'spectral_norm lowers fid by 4.1 [2.3, 5.9] …'."""
    out = []
    for _, r in fx.table[fx.table["significant"]].iterrows():
        verb = "raises" if r["estimate"] > 0 else "lowers"
        lo, hi = sorted((abs(r["ci_low"]), abs(r["ci_high"])))
        size = f"{_g(abs(r['estimate']))} [{_g(lo)}, {_g(hi)}]"
        if r["kind"] == "main":
            where = ("added to the baseline (other tricks off)" if fx.interactions
                     else "averaged over the other tricks")
            out.append(f"{r['term']} {verb} {metric} by {size} when {where} "
                       f"(Holm p {_p(r['p_holm'])}).")
        else:
            a, b = r["term"].split(" × ")
            out.append(f"{a} with {b} {verb} {metric} by a further {size} beyond the sum of "
                       f"their separate effects (Holm p {_p(r['p_holm'])}).")
    return out


def _g(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


def _p(p: float) -> str:
    return "< 0.001" if p < 1e-3 else f"= {p:.2g}"
