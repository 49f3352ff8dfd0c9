"""One trick judged across several tasks (issue 30): supporting detail beside the within-task
exact tests, which stay the primary analysis.

Tasks are the values of the sweep's `dataset` axis; a sweep without one gets no summary.
Other non-trick axes are held at their reference level (the plan's first value). Pure
functions of a tidy runs table (frame.py) and of arrays; numbers only, the sentences are in
markdown.py.

The estimators follow rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge
of the Statistical Precipice", NeurIPS; github.com/google-research/rliable), written here
with numpy/scipy rather than adding the package (it pulls arch, seaborn, absl):

- **Normalised score** (`normalise`): per task, min-max over every defined run value of that
  task (all its cells and seeds), flipped for `goal: min`, so 0 is the task's worst run and 1
  its best. Chosen over "(value − baseline mean) / baseline seed sd" because the baseline's
  sd comes from 3–10 seeds (a noisy denominator that inflates small-sd tasks) and is 0 for a
  cell at a floor or ceiling (integer mode counts), where min-max stays defined unless every
  run of the task has the same value. The bounds are treated as fixed by the bootstrap.
- **Probability of improvement** (`prob_improvement`): per task, the share of seeds (paired:
  treated and baseline at the same seed) where the treated run beats the baseline, ties 1/2;
  averaged over tasks. It depends only on the order of values within a task, so it is the
  same on raw or normalised values.
- **IQM** (`iqm`): the interquartile mean, `scipy.stats.trim_mean(x, 0.25)`, of a cell's
  normalised scores pooled over tasks and seeds.
- **Intervals**: percentile stratified bootstrap (`stratified_bootstrap`; RESAMPLES
  resamples, seeded): runs (or seed pairs) are resampled within each task independently.
  None (NaN) where a task has fewer than 2 runs or pairs. A percentile bootstrap collapses
  to a point when every pair is a win (or a loss); P(improvement)'s interval therefore always
  reaches at least `unseen_share(N)` of the way to each end of [0, 1] (N paired seeds in
  all; the rule the ranked table uses for cells without spread, inference.py). Per-task
  effects in the plot use the paired t interval of the mean normalised difference (the
  report's rule for a mean of 3–10 seeds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.report.frame import Factor, factors_of
from ganbench.report.inference import CONFIDENCE, t_interval, unseen_share

TASK_AXIS = "dataset"
RESAMPLES = 2000
SEED = 0


@dataclass
class Across:
    """The across-task summary of one protocol group."""

    axis: str  # the task axis ("dataset")
    tasks: list[str]
    held: dict[str, str]  # other axes held at their reference level
    table: pd.DataFrame  # one row per trick level (see `across_tasks`)
    effects: pd.DataFrame  # one row per (term, task): delta, ci_low, ci_high, n
    goal: str
    notes: list[str] = field(default_factory=list)


def task_factor(t: pd.DataFrame) -> Factor | None:
    """The `dataset` axis, when the sweep varies it."""
    for f in factors_of(t):
        if f.kind == "axis" and f.name == TASK_AXIS:
            return f
    return None


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end)."""
    x = np.asarray(x, dtype=float)
    return float(stats.trim_mean(x, 0.25)) if x.size else math.nan


def normalise(values: pd.Series, tasks: pd.Series, goal: str) -> pd.Series:
    """Per task, min-max over its defined values; higher is better (flipped for goal min).
    NaN where the value is undefined or every value of the task is the same."""
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be 'max' or 'min', got {goal!r}")
    lo = values.groupby(tasks).transform("min")
    hi = values.groupby(tasks).transform("max")
    span = (hi - lo).where(hi > lo)
    return (values - lo) / span if goal == "max" else (hi - values) / span


def _wins(d: np.ndarray) -> np.ndarray:
    return np.where(d > 0, 1.0, np.where(d == 0, 0.5, 0.0))


def prob_improvement(diffs: list[np.ndarray]) -> float:
    """Mean over tasks of P(treated > baseline) over paired seeds, ties 1/2. diffs: per task,
    the per-seed differences treated − baseline in 'higher is better' units."""
    per = [_wins(np.asarray(d, dtype=float)).mean() for d in diffs if len(d)]
    return float(np.mean(per)) if per else math.nan


def stratified_bootstrap(samples: list[np.ndarray],
                         stat: Callable[[list[np.ndarray]], np.ndarray],
                         resamples: int = RESAMPLES, seed: int = SEED,
                         confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of `stat` with each stratum (task) resampled with replacement on
    its own. stat maps a list of (B, n_k) arrays to B values. NaN when a stratum has < 2."""
    if not samples or any(len(s) < 2 for s in samples):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = [np.asarray(s, dtype=float)[rng.integers(0, len(s), (resamples, len(s)))]
             for s in samples]
    vals = np.asarray(stat(draws), dtype=float)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(vals, [a, 1 - a])
    return float(lo), float(hi)


def poi_interval(diffs: list[np.ndarray], resamples: int = RESAMPLES,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """P(improvement)'s interval: the stratified bootstrap's, widened to reach at least
    `unseen_share(N)` of the way to 0 and to 1 (never a point at 0 or 1 from all wins)."""
    lo, hi = stratified_bootstrap(diffs, poi_stat, resamples, confidence=confidence)
    if lo != lo:
        return lo, hi
    p, q = prob_improvement(diffs), unseen_share(sum(len(d) for d in diffs), confidence)
    return min(lo, p - q * p), max(hi, p + q * (1 - p))


def poi_stat(draws: list[np.ndarray]) -> np.ndarray:
    return np.mean([_wins(d).mean(axis=1) for d in draws], axis=0)


def iqm_stat(draws: list[np.ndarray]) -> np.ndarray:
    return stats.trim_mean(np.concatenate(draws, axis=1), 0.25, axis=1)


def mean_stat(draws: list[np.ndarray]) -> np.ndarray:
    return np.mean([d.mean(axis=1) for d in draws], axis=0)


def _cell(t: pd.DataFrame, levels: dict[str, str]) -> pd.DataFrame:
    mask = pd.Series(True, index=t.index)
    for k, v in levels.items():
        mask &= t[k] == v
    return t[mask]


def _decision(abl: pd.DataFrame | None, term: str, context: str, goal: str) -> str:
    """The within-task primary test's verdict on this row, in a word."""
    if abl is None:
        return "—"
    hit = abl[(abl["term"] == term) & (abl["context"] == context)]
    if hit.empty:
        return "—"
    r = hit.iloc[0]
    if not r["significant"]:
        return "not decided"
    good = (r["delta"] > 0) == (goal == "max")
    return "better" if good else "worse"


def across_tasks(t: pd.DataFrame, goal: str, primary: pd.DataFrame | None = None
                 ) -> Across | None:
    """The per-trick summary across the `dataset` axis's values, or None (no such axis, no
    trick, or no baseline-and-treated pair of cells in any task).

    table: term, tasks (with ≥ 1 paired seed), pairs, p_imp, p_low, p_high, iqm_trt,
    trt_low, trt_high, iqm_base, base_low, base_high, delta (mean over tasks of the mean
    paired normalised difference), delta_low, delta_high, within (per task, the primary
    `baseline + X` row's decision, from `primary`), short (tasks with < 2 seeds in a cell).
    """
    axis = task_factor(t)
    tricks = [f for f in factors_of(t) if f.kind == "trick"]
    if axis is None or not tricks:
        return None
    others = [f for f in factors_of(t) if f.kind == "axis" and f.name != axis.name]
    held = {f.name: f.reference for f in others}
    tasks = [axis.reference, *axis.levels]
    sub = _cell(t, held)
    sub = sub.assign(score=normalise(sub["value"], sub[axis.name], goal))
    base = {f.name: f.reference for f in tricks}
    rows, effects = [], []
    for f in tricks:
        for lv in f.levels:
            term = f.term(lv)
            diffs, zdiffs, trt_s, base_s, used, within, short = [], [], [], [], [], [], []
            for task in tasks:
                b = _cell(sub, {**base, axis.name: task}).set_index("seed")
                s = _cell(sub, {**base, f.name: lv, axis.name: task}).set_index("seed")
                if b.empty or s.empty:
                    continue
                both = b[["value", "score"]].add_suffix("_b").join(
                    s[["value", "score"]].add_suffix("_t"), how="inner").dropna()
                if both.empty:
                    continue
                used.append(task)
                sign = 1.0 if goal == "max" else -1.0
                diffs.append(sign * (both["value_t"] - both["value_b"]).to_numpy())
                z = (both["score_t"] - both["score_b"]).to_numpy()
                zdiffs.append(z)
                bs, ts = b["score"].dropna().to_numpy(), s["score"].dropna().to_numpy()
                base_s.append(bs)
                trt_s.append(ts)
                if min(len(bs), len(ts), len(z)) < 2:
                    short.append(task)
                ctx = " ".join(f"{k}={(held | {axis.name: task})[k]}"
                               for k in [a.name for a in factors_of(t) if a.kind == "axis"])
                within.append(f"{task}: {_decision(primary, term, ctx, goal)}")
                lo, hi = t_interval(z) if len(z) > 1 else (math.nan, math.nan)
                # a difference of two scores in [0, 1] lies in [−1, 1]: so does its interval
                lo, hi = max(float(lo), -1.0), min(float(hi), 1.0)
                effects.append({"term": term, "task": task, "delta": float(z.mean()),
                                "ci_low": float(lo), "ci_high": float(hi), "n": len(z)})
            if not used:
                continue
            p_lo, p_hi = poi_interval(diffs)
            t_lo, t_hi = stratified_bootstrap(trt_s, iqm_stat)
            b_lo, b_hi = stratified_bootstrap(base_s, iqm_stat)
            d_lo, d_hi = stratified_bootstrap(zdiffs, mean_stat)
            rows.append({"term": term, "tasks": len(used), "task_names": ", ".join(used),
                         "pairs": sum(len(d) for d in diffs),
                         "p_imp": prob_improvement(diffs), "p_low": p_lo, "p_high": p_hi,
                         "iqm_trt": iqm(np.concatenate(trt_s)), "trt_low": t_lo,
                         "trt_high": t_hi, "iqm_base": iqm(np.concatenate(base_s)),
                         "base_low": b_lo, "base_high": b_hi,
                         "delta": float(np.mean([z.mean() for z in zdiffs])),
                         "delta_low": d_lo, "delta_high": d_hi, "within": "; ".join(within),
                         "short": ", ".join(short)})
    if not rows:
        return None
    notes = []
    flat_tasks = [x for x in tasks if sub.loc[sub[axis.name] == x, "value"].nunique() == 1]
    if flat_tasks:
        notes.append(f"Every run of {', '.join(flat_tasks)} has the same value: no normalised "
                     "score there, so those tasks are left out of this summary.")
    return Across(axis.name, tasks, held, pd.DataFrame(rows), pd.DataFrame(effects), goal,
                  notes)
