"""Statistics of a sweep: pure functions of a tidy runs table (report/frame.py, one protocol).

- ranked_table: per cell mean ± std over finished seeds and a 95% interval of the mean
  (`t_ci`: Student t inside the metric's range, never a point; its coverage is checked by
  simulation in tests/unit/report/test_intervals.py). Rank = 1 + the number of cells significantly
  better than this one by the paired sign-flip test with Holm over every pair of ranked cells
  (`pairwise`), so the chance of separating any two equal cells is ≤ 5% however many cells
  there are; cells without spread (floor / ceiling) are flagged.
- ablations: "baseline + X" and "all − X", paired by seed. One test for every row: the
  exact paired permutation (sign-flip) test on the seed differences (`sign_flip_p`), valid
  for integer metrics with ties; a paired t interval for Δ; Holm over the rows of a table.
- The interval and the test are in report/inference.py; the factorial model in
  report/factorial.py.

Diverged runs have no metric value, and neither do finished runs whose final metric is
undefined (reverse KL with no high-quality sample): both are counted per cell and per
comparison, never averaged in and never silently dropped from the counts.
"""

from __future__ import annotations

import math

import pandas as pd

from ganbench.report.frame import Factor, companions_of, confounds, costs_of, factors_of
from ganbench.report.inference import (  # noqa: F401  (the names below are importable here too)
    ALPHA,
    CONFIDENCE,
    EXACT_MAX_N,
    INTERVAL,
    MC_FLIPS,
    MC_SEED,
    MC_TEST_NAME,
    OPEN,
    TEST_NAME,
    Bounds,
    holm,
    min_p,
    paired_delta,
    pairwise,
    seeds_needed,
    sign_flip_p,
    t_ci,
    t_interval,
    test_name,
)


def split_by_protocol(t: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Runs measured under different metric protocols are never compared: one group each."""
    groups = []
    for proto, g in t.groupby("protocol", sort=True, dropna=False):
        g = g.copy()
        g.attrs = dict(t.attrs)
        groups.append((str(proto), g))
    return groups


def _better(goal: str) -> int:
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")
    return 1 if goal == "max" else -1


def declared_bounds(metric: str | None, dataset: str | None = None
                    ) -> tuple[float | None, float | None]:
    """The range the metric's spec declares (metrics/base.py), counted names included; an
    upper end set by the dataset's classes (mode counts) where the runs share one dataset."""
    from ganbench.data import DATASETS
    from ganbench.metrics.base import METRICS, parse_counted

    name = str(metric)
    spec = METRICS.get(name) if name in METRICS else (parse_counted(name) or (None,))[0]
    if spec is None:
        return None, None
    high = spec.high
    if high is None and spec.high_over_classes is not None and dataset in DATASETS:
        classes = DATASETS.get(dataset).classes
        high = None if classes is None else classes + spec.high_over_classes
    return spec.low, high


def metric_bounds(t: pd.DataFrame) -> Bounds:
    """The range a cell mean can lie in: the metric's declared range; an open side (an
    unbounded metric such as FID) is closed at the most extreme value any run reached, which
    only the no-spread rule of `t_ci` uses (a t interval is never cut there)."""
    lo, hi = declared_bounds(t.attrs.get("metric"), t.attrs.get("dataset"))
    vals = t["value"].dropna()
    if vals.empty:
        return OPEN
    return (float(lo) if lo is not None else float(vals.min()),
            float(hi) if hi is not None else float(vals.max()))


def clip_bounds(t: pd.DataFrame) -> Bounds:
    """The declared range alone (±inf where open): where an interval is cut."""
    lo, hi = declared_bounds(t.attrs.get("metric"), t.attrs.get("dataset"))
    return (-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi))


def spread_flags(t: pd.DataFrame) -> dict[str, str]:
    """cell -> 'floor' / 'ceiling' / 'no spread' for cells whose ≥ 2 defined values are all
    equal: at the metric's bound or the lowest / highest value any run reached, or elsewhere."""
    vals = t["value"].dropna()
    if vals.empty:
        return {}
    lo_b, hi_b = declared_bounds(t.attrs.get("metric"), t.attrs.get("dataset"))
    out = {}
    for cell, g in t.groupby("cell", sort=False):
        v = g["value"].dropna()
        if len(v) < 2 or v.nunique() > 1:
            continue
        x = v.iloc[0]
        # The declared bounds first: every run at 8 of 8 modes is at the ceiling, even when
        # it is also the lowest value any run reached.
        if hi_b is not None and x >= hi_b:
            out[cell] = "ceiling"
        elif (lo_b is not None and x <= lo_b) or x == vals.min():
            out[cell] = "floor"
        elif x == vals.max():
            out[cell] = "ceiling"
        else:
            out[cell] = "no spread"
    return out


def ranked_table(t: pd.DataFrame, goal: str, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per cell (plan order kept for equal means), best first.

    rank = 1 + the number of cells significantly better than this one (`pairwise`: the
    paired sign-flip test, Holm over every pair of ranked cells); cells that no test
    separates share a rank (`tied`). A cell with fewer than 2 values has no interval and no
    rank. `better_than`: how many cells this one is significantly better than. The pairwise
    family is on `attrs["pairs"]`. Companion metrics (`<name>_mean`, `<name>_undefined`)
    and costs (`cost_<name>`) are means over the same finished runs.
    """
    sign = _better(goal)
    flags = spread_flags(t)
    bounds, ends = clip_bounds(t), metric_bounds(t)
    rows = []
    for cell, g in t.groupby("cell", sort=False):
        fin = g["status"] == "finished"
        vals = g["value"].dropna().to_numpy()
        n_fin = int(fin.sum())
        n_div = int((g["status"] == "diverged").sum())
        lo, hi = t_ci(vals, confidence, bounds, ends)
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
    ranked = list(table.loc[table["ci_low"].notna(), "cell"])
    wide = t[t["cell"].isin(ranked)].pivot_table(index="seed", columns="cell", values="value",
                                                 aggfunc="first", dropna=False)
    pairs = pairwise(wide.reindex(columns=ranked)) if len(ranked) > 1 else pairwise(
        pd.DataFrame())
    wins = {c: 0 for c in ranked}
    losses = {c: 0 for c in ranked}
    for _, p in pairs[pairs["significant"]].iterrows():  # delta = b − a
        better, worse = (p["b"], p["a"]) if sign * p["delta"] > 0 else (p["a"], p["b"])
        wins[better] += 1
        losses[worse] += 1
    table["rank"] = [1 + losses[c] if c in losses else math.nan for c in table["cell"]]
    base = baseline_cell(t)
    table["changes"] = ["; ".join(confounds(t, base, c)) if base and c != base else ""
                        for c in table["cell"]]
    table["better_than"] = [wins.get(c, 0) for c in table["cell"]]
    counts = table["rank"].value_counts()
    table["tied"] = table["rank"].map(lambda r: bool(counts.get(r, 0) > 1) if r == r else False)
    table["_key"] = -sign * table["mean"]  # within a rank, the better mean first
    table = table.sort_values(["rank", "_key"], kind="stable", na_position="last").drop(
        columns="_key")
    table = table.reset_index(drop=True)
    table.attrs.update(metric=t.attrs.get("metric"), goal=goal, confidence=confidence,
                       companions=companions_of(t), costs=costs_of(t), pairs=pairs,
                       bounds=bounds)
    return table


def baseline_cell(t: pd.DataFrame) -> str | None:
    """The cell with every factor at its reference (no trick, the first axis levels)."""
    factors = factors_of(t)
    if not factors:
        return None
    ref = tuple(f.reference for f in factors)
    return _cells_by_levels(t, factors).get(ref)


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
    res = paired_delta(r.set_index("seed")["value"], s.set_index("seed")["value"],
                       clip_bounds(t), metric_bounds(t))
    out = {"term": term, "context": context, "reference": ref, "treated": trt, **res,
           "changes": "; ".join(confounds(t, ref, trt)),
           "ref_diverged": int((r["status"] == "diverged").sum()), "ref_n": len(r),
           "trt_diverged": int((s["status"] == "diverged").sum()), "trt_n": len(s)}
    for m in companions_of(t):  # beside Δ: the companion metric in both cells
        for side, g in (("ref", r), ("trt", s)):
            v = g.loc[g["status"] == "finished", f"metric:{m}"]
            out[f"{side}_{m}"] = v.mean() if v.notna().any() else math.nan
    return out
