"""A tuned sweep's report section: search budgets, best-so-far curves, untuned vs tuned ranks.

Pure apart from the plot: reads the search record (tuning.json, written by
sweep/tune_summary.py) and the ranked table of the final phase.

Expected maximum vs budget (Dodge et al. 2019, "Show Your Work"): for a budget of B trials,
the best value among the first B trials of a random re-ordering of the cell's trials; the
median and the 10th-90th percentile band over many re-orderings. A pruned, diverged or
failed trial spends budget and adds no value. At B = N every ordering holds every trial, so
the band closes on the cell's best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganbench.report.markdown import num

ORDERINGS = 1000
BAND = (10, 90)


def best_so_far(values: list[float | None], goal: str, orderings: int = ORDERINGS,
                seed: int = 0) -> pd.DataFrame:
    """budget, median, low, high of the best value within the first `budget` trials over
    random re-orderings; NaN where no trial of that many has a value in that share."""
    n = len(values)
    worst = -math.inf if goal == "max" else math.inf
    v = np.array([worst if x is None or not math.isfinite(x) else x for x in values], float)
    if n == 0:
        return pd.DataFrame(columns=["budget", "median", "low", "high"])
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(n) for _ in range(orderings)])
    acc = np.maximum.accumulate if goal == "max" else np.minimum.accumulate
    best = acc(v[orders], axis=1)  # (orderings, n); no value yet: the worst, +-inf
    # Quantiles that pick observed values (no averaging with an infinite "no value yet"):
    # a budget where at least that share of orderings has no value has no quantile (NaN).
    q = np.quantile(best, [BAND[0] / 100, 0.5, BAND[1] / 100], axis=0, method="inverted_cdf")
    lo, med, hi = (np.where(np.isinf(x), np.nan, x) for x in q)
    return pd.DataFrame({"budget": np.arange(1, n + 1), "median": med, "low": lo, "high": hi})


def stable_from(curves: dict[str, pd.DataFrame], goal: str) -> int | None:
    """The smallest budget from which the cells' order by median best-so-far equals their
    order at the full budget at every larger budget (None with under two cells)."""
    if len(curves) < 2:
        return None
    n = min(len(c) for c in curves.values())
    if n == 0:
        return None
    sign = -1 if goal == "max" else 1

    def order(b: int) -> tuple:
        vals = {cell: c["median"].iloc[b - 1] for cell, c in curves.items()}
        s = pd.Series({k: (sign * v if v == v else math.inf) for k, v in vals.items()})
        return tuple(s.rank(method="min").loc[sorted(s.index)])

    final = order(n)
    b = n
    while b > 1 and order(b - 1) == final:
        b -= 1
    return b


def _order_ranks(values: dict[str, float | None], goal: str) -> dict[str, int | None]:
    """1 = best; equal values share a rank; a cell without a value has none."""
    have = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    s = pd.Series(have, dtype=float)
    r = (-s if goal == "max" else s).rank(method="min")
    return {k: (int(r[k]) if k in have else None) for k in values}


@dataclass
class Tuning:
    meta: dict[str, Any]
    curves: dict[str, pd.DataFrame]
    stable: int | None
    ranks: pd.DataFrame  # cell, untuned, untuned_rank, tuned, tuned_rank, moved
    notes: list[str] = field(default_factory=list)
    plot: str | None = None


def tied_best(cell: dict[str, Any]) -> int:
    """How many counted, finished trials share the best trial's value (1: no tie)."""
    best = cell.get("best")
    if not best:
        return 0
    return sum(1 for t in cell["trials"] if t["counted"] and t["outcome"] == "finished"
               and t["value"] is not None and abs(t["value"] - best["value"]) <= 1e-12)


def analyse(record: dict[str, Any], ranked: pd.DataFrame) -> Tuning:
    goal = record["goal"]
    curves, untuned, notes = {}, {}, []
    for c in record["cells"]:
        counted = [t for t in c["trials"] if t["counted"]]
        vals = [t["value"] if t["outcome"] == "finished" else None for t in counted]
        curves[c["label"]] = best_so_far(vals, goal)
        default = [t for t in counted if t["role"] == "default"]
        untuned[c["label"]] = (default[0]["value"] if default and default[0]["outcome"]
                               == "finished" else None)
        if not default:
            notes.append(f"{c['label']}: no untuned trial ({c['default_note'] or 'none ran'}).")
        elif default[0]["outcome"] != "finished":
            notes.append(f"{c['label']}: its untuned trial ended {default[0]['outcome']}.")
    # Equal footing: both sides are search values, on the same search seeds and count (the
    # untuned trial 0 and the best trial); the final phase's mean is on other seeds.
    final = dict(zip(ranked["cell"], ranked["mean"], strict=True)) if not ranked.empty else {}
    tuned = {c["label"]: c["best"]["value"] if c.get("best") else None for c in record["cells"]}
    ties = {c["label"]: tied_best(c) for c in record["cells"]}
    ur, tr = _order_ranks(untuned, goal), _order_ranks(tuned, goal)
    rows = [{"cell": k, "untuned": untuned[k], "untuned_rank": ur[k], "tuned": tuned[k],
             "tuned_rank": tr[k], "final": final.get(k), "tied": ties[k],
             "moved": ur[k] is not None and tr[k] is not None and ur[k] != tr[k]}
            for k in untuned]
    return Tuning(record, curves, stable_from(curves, goal), pd.DataFrame(rows), notes)


def search_runs(runs: pd.DataFrame) -> pd.Series:
    col = "tags.ganbench.phase"
    return runs[col].eq("search") if col in runs else pd.Series(False, index=runs.index)


def mask_searched(runs: pd.DataFrame, record: dict[str, Any]) -> pd.DataFrame:
    """The final runs with every searched parameter read as "tuned": their values differ by
    cell (each cell's own best), which must not make them factors of the design."""
    runs = runs.copy()
    for key in record["space"]:
        col = f"params.{key}"
        if col in runs:
            runs[col] = runs[col].where(runs[col].isna(), "tuned")
    return runs


# ---------------------------------------------------------------- markdown


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *["| " + " | ".join(r) + " |" for r in rows]]


def _rank(r) -> str:
    return "–" if r is None or (isinstance(r, float) and math.isnan(r)) else str(int(r))


def _params(p: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {num(v) if isinstance(v, float) else v}" for k, v in p.items()) \
        or "(nothing searched)"


def section(tu: Tuning, metric: str) -> str:
    m = tu.meta
    pr = m.get("pruner")
    pruning = (f"{pr['name']} pruner (warm-up {pr['warmup_steps']} steps; none pruned before "
               f"{pr['startup_trials']} trial(s) had finished)" if pr and pr["name"] != "none"
               else "no pruning")
    out = ["## Tuning (budget-fair comparison)", "",
           f"Every cell got its own Optuna study with the same search space (less the "
           f"parameters the cell does not use), the same budget of {m['budget']} trials, the "
           f"`{m['sampler']}` sampler with seed {m['seed']}, and {pruning}. Each search trial "
           f"trained {m['tune_seeds']} search seed(s) ({', '.join(map(str, m['search_seeds']))})"
           f"; its value is their mean final `{metric}`. The final phase re-trained each "
           f"cell's best configuration over the seeds {m['final_seeds']}, none of them a search"
           " seed: the ranked table, ablations and factorial analysis above use those runs "
           "only.", "",
           "### Trials per cell", ""]
    rows = []
    for c in m["cells"]:
        k = c["counts"]
        spent = sum(v for key, v in k.items() if key != "replaced")
        rows.append([c["label"], str(spent), str(k.get("finished", 0)), str(k.get("pruned", 0)),
                     str(k.get("diverged", 0)), str(k.get("error", 0)),
                     str(k.get("waiting", 0) + k.get("running", 0)), str(k.get("replaced", 0))])
    out += _table(["cell", "trials", "finished", "pruned", "diverged", "error", "open",
                   "replaced (worker stopped)"], rows)
    out += ["", "A trial whose worker stopped (killed, lost) does not count and was re-run; "
            "every other outcome spends budget, and a diverged trial is never re-run.", ""]
    out += ["### Best configuration per cell", ""]
    rows = [[c["label"], str(c["best"]["number"]) if c["best"] else "–",
             num(c["best"]["value"]) if c["best"] else "–", str(tied_best(c)),
             _params(c["best"]["params"]) if c["best"] else "no trial finished"]
            for c in m["cells"]]
    out += _table(["cell", "trial", f"search {metric}", "trials at that value", "values"],
                  rows)
    tied = [c["label"] for c in m["cells"] if tied_best(c) > 1]
    out += ["", "Best = the finished trial with the best value; ties go to the earliest trial."
            + (" Trial 0 is the cell's default configuration." if any(
                c["default"] is not None for c in m["cells"]) else "")
            + (f" In {len(tied)} cell(s) ({', '.join(tied)}) several trials tied at the best "
               "value: the search did not separate them, so the configuration chosen there "
               "is decided by trial order, not by the metric; read its values as one of the "
               "tied ones." if tied else ""), ""]
    out += _ranks_md(tu, metric)
    out += _curve_md(tu, metric)
    out += ["### Parameter importances (fANOVA)", ""]
    for c in m["cells"]:
        imp = c["importances"]
        text = (", ".join(f"{k} {v:.2f}" for k, v in sorted(imp.items(), key=lambda x: -x[1]))
                + f" ({c['importance_note']})") if imp else c["importance_note"]
        out.append(f"- {c['label']}: {text}")
    out += [""] + [f"_{n}_" for n in tu.notes] + ([""] if tu.notes else [])
    return "\n".join(out)


def _ranks_md(tu: Tuning, metric: str) -> list[str]:
    out = ["### Untuned vs tuned ranking", ""]
    if tu.ranks["untuned"].isna().all():
        return out + ["Unavailable: no cell has a finished untuned trial.", ""]
    rows = [[r.cell, num(r.untuned), _rank(r.untuned_rank), num(r.tuned), _rank(r.tuned_rank),
             "moved" if r.moved else "", num(r.final)] for r in tu.ranks.itertuples()]
    out += _table(["cell", f"untuned {metric}", "rank", f"tuned {metric}", "rank", "",
                   f"final-phase {metric}"], rows)
    moved = int(tu.ranks["moved"].sum())
    seeds = ", ".join(map(str, tu.meta["search_seeds"]))
    out += ["", f"On equal footing: untuned = each cell's trial 0 (its default "
            f"configuration), tuned = its best trial, both over the same "
            f"{tu.meta['tune_seeds']} search seed(s) ({seeds}). "
            "A cell whose best trial is its default has the same value on both sides. The "
            "tuned side is the best of the cell's trials, so it is optimistic (selection); "
            "the final phase's mean, on other seeds, is the unbiased estimate and is what the "
            "ranked table uses. Ranks here order values only (equal values share a rank); "
            "no test stands behind them, so a changed rank is a description, not a finding: "
            + (f"{moved} cell(s) ordered differently after tuning." if moved else
               "no cell is ordered differently after tuning."), ""]
    if tu.meta["tune_seeds"] == 1:
        out += ["The untuned values rest on one seed per cell.", ""]
    return out


def _curve_md(tu: Tuning, metric: str) -> list[str]:
    out = ["### Best value against budget (expected maximum, Dodge et al. 2019)", ""]
    if tu.plot:
        out += [f"![best-so-far vs budget]({tu.plot})", ""]
    n = tu.meta["budget"]
    marks = sorted({b for b in (1, 2, 4, 8, 16, 32, 64, n) if b <= n})
    rows = []
    for cell, c in tu.curves.items():
        rows.append([cell] + [f"{num(c['median'].iloc[b - 1])} [{num(c['low'].iloc[b - 1])}, "
                              f"{num(c['high'].iloc[b - 1])}]" if b <= len(c) else "–"
                              for b in marks])
    out += _table(["cell"] + [f"B={b}" for b in marks], rows)
    out += ["", f"Median [{BAND[0]}th, {BAND[1]}th percentile] of the best search `{metric}` "
            f"within the first B trials, over {ORDERINGS} random orderings of each cell's "
            "trials; pruned, diverged and failed trials count as spent with no value.", ""]
    s = tu.stable
    if s is not None:
        if s == 1:
            out.append("Ordered by this median, the cells rank the same at every budget from 1 "
                       f"to {n}.")
        elif s >= n:
            out.append(f"Ordered by this median, the cells' order changed between budgets "
                       f"{n - 1} and {n}: this budget is too small to show where the ranking "
                       "stabilises.")
        else:
            out.append(f"Ordered by this median, the cells rank the same from a budget of {s} "
                       f"to {n}" + (" (late in the budget: a larger one might still change "
                                    "it)." if s > n / 2 else "."))
        out.append("")
    return out


def plot(tu: Tuning, path: Path, metric: str) -> Path:
    """The best-so-far curves of every cell in one panel (median line, percentile band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganbench.report.plots import DPI

    with plt.rc_context({"font.size": 9, "axes.labelsize": 9, "legend.fontsize": 8}):
        fig, ax = plt.subplots(figsize=(4.2, 2.8))
        for cell, c in tu.curves.items():
            line, = ax.plot(c["budget"], c["median"], marker=".", label=cell)
            ax.fill_between(c["budget"], c["low"], c["high"], alpha=0.15,
                            color=line.get_color())
        ax.set_xlabel("budget (trials)")
        ax.set_ylabel(f"best search {metric}")
        ax.legend(frameon=False)
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
    tu.plot = path.name
    return path


__all__ = ["BAND", "ORDERINGS", "Tuning", "analyse", "best_so_far", "mask_searched", "plot",
           "search_runs", "section", "stable_from"]
