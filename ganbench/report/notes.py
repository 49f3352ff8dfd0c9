"""The sentences printed under the report's tables (plain text; markdown.py and latex.py
format them): what the interval is, what a rank means, the ranking rule of 2-D mixtures,
costs, and the warnings a reader needs before trusting a verdict."""

from __future__ import annotations

import pandas as pd

from ganbench.metrics.mog import HQ_MIN
from ganbench.report.stats import (
    ALPHA,
    EXACT_MAX_N,
    MC_FLIPS,
    min_p,
    seeds_needed,
)

MIN_SEEDS = 3

COMPANION_LABELS = {"hq": "hq %", "reverse_kl": "rKL", "modes": "modes"}
COST_LABELS = {"seconds": "wall s", "d_steps": "D steps", "g_steps": "G steps"}


INTERVAL_RULE = (
    "95% CI: Student t, mean ± t(0.975, n − 1)·s/√n, kept inside the metric's range; where "
    "every seed agrees, the interval reaches the share q = 1 − 0.05^(1/n) of the way to each "
    "end of the range (an open end: the most extreme value any run reached) (q = "
    "63% at 3 seeds, 26% at 10: the largest share of runs n seeds can all miss with 5% "
    "chance), never a point. Simulated coverage: 95% on normal data, 92–99% where seeds pile "
    "up at a floor or ceiling, but 78–89% at 3–10 seeds when a minority of seeds is dead at "
    "the floor and the rest work (no interval built from the seeds' spread reaches 95% "
    "there); the tests below do not depend on it.")


def ranked_note(pairs: pd.DataFrame | None = None) -> str:
    n = int(pairs["p"].notna().sum()) if pairs is not None and len(pairs) else 0
    return ("Mean ± std over finished seeds with a value (the std is seed-to-seed: over "
            "the runs' recorded values, not evaluation noise). " + INTERVAL_RULE + " Rank = 1 + "
            "the number of cells significantly better than this one: the exact paired "
            "sign-flip test between every two ranked cells on the seeds both have, Holm over "
            f"all {n} pairs at {ALPHA:g}, so the chance that any two equal cells are ranked "
            "apart is at most 5% however many cells there are; cells that no test separates "
            "share a rank (shown `=k`), listed by mean. A comparison decided in the ablation "
            "(a smaller family) can still share a rank here. Cells with one value are not "
            "ranked. (floor) / (ceiling) / (no spread): every seed gave the same value, at "
            "the lowest / highest any run reached or elsewhere. Diverged runs are results: "
            "counted (rate = diverged / (finished + diverged)), never averaged in; undefined "
            "= finished runs whose final metric is undefined (e.g. reverse KL with no "
            "high-quality sample): counted, never averaged, never replaced by an earlier "
            "step's value; failed = killed or errored. changes: resolved settings (learning "
            "rates, batch, D steps per G step, steps, evaluation) that differ from the "
            "baseline cell's.")


def ranking_rule(metric: str) -> str:
    """The ranking metric's rule for 2-D mixtures (empty for other metrics)."""
    pct = f"{100 * HQ_MIN:g}%"
    if metric == "mode_score":
        return ("Ranked by `mode_score` = modes + hq (hq as a share in [0, 1]): coverage "
                "first, then quality, with no cliff. A run that covers more modes always "
                "scores higher, so a dead or collapsed run never ranks above one that covers "
                "more modes, and a loss of quality at equal coverage still shows. It does not "
                "hide noise (noise over grid25's square covers ~22 modes at ~2% hq): read hq "
                f"beside it; cells below {pct} hq are named in the verdict. hq % and reverse "
                "KL (rKL, a mean over the runs where it is defined, which may differ between "
                "cells) are means over the same finished runs.")
    if metric == "modes_hq":
        return (f"Ranked by `modes_hq`, as the sweep file asks: the modes a run covers, "
                f"counted only when at least {pct} of its samples are high-quality (else 0). "
                f"It has a cliff at {pct}: a run at 49% hq scores as a dead run, and a "
                "one-mode collapse at 100% hq outranks every run below it; `mode_score` "
                "(modes + hq, the default) has no cliff.")
    if metric == "modes":
        return ("Ranked by `modes`, as the sweep file asks. Modes alone rewards noise: "
                "uniform noise over grid25's square covers about 22 of 25 modes with about "
                f"2% high-quality samples. Read it beside hq % (below {pct}: not a converged "
                "distribution), or rank by `mode_score` (modes + hq; the default for 2-D "
                "mixtures).")
    if metric in ("hq", "reverse_kl"):
        return (f"Ranked by `{metric}`; the other 2-D metrics of the same runs are shown "
                "beside it.")
    return ""


def cost_note(ranked: pd.DataFrame, stacked: int) -> str:
    costs = ranked.attrs.get("costs", [])
    if not costs:
        return ("Cost: these runs were recorded without cost metrics (before ganbench logged "
                "them), so no cost columns are shown.")
    out = ("Cost per finished run (means): wall s = `perf/seconds` (wall-clock time"
           + (f"; seeds trained as one vectorised stack, up to {stacked} here, share the "
              "stack's time" if stacked > 1 else "")
           + "), D steps and G steps = optimiser steps (`cost/d_steps`, `cost/g_steps`).")
    spans = {}
    for c in ("d_steps", "seconds"):
        v = ranked.get(f"cost_{c}", pd.Series(dtype=float)).dropna()
        if len(v) > 1 and v.min() > 0 and v.max() / v.min() > 1.2:
            spans[c] = f"{COST_LABELS[c]} differ up to {v.max() / v.min():.2g}× between cells"
    if "d_steps" in spans:  # counted optimiser steps: a real difference in compute
        out += (" Here " + " and ".join(spans.values()) + ": cells run for equal `steps` "
                "are not at equal compute; compare at equal cost by these columns.")
    elif spans:
        # Wall time alone: a trick's extra passes or the machine's load during the runs
        # (other processes, workers sharing cores); the record cannot tell which.
        out += (" Here " + spans["seconds"] + " at equal optimiser steps: from the tricks' "
                "extra work per step or from the machine's load while they ran; wall time is "
                "not a controlled measure, so read it as indicative only.")
    out += (" FLOPs are not counted: no exact count is cheap for every trick's extra passes "
            "(penalties' double backward, n_critic's extra D steps), so none is shown.")
    return out


def seed_warnings(t: pd.DataFrame, planned: list[int]) -> list[str]:
    """Warnings when there are fewer than MIN_SEEDS seeds per cell."""
    out = []
    if planned and len(planned) < MIN_SEEDS:
        out.append(f"Only {len(planned)} seed(s) per cell: fewer than {MIN_SEEDS}. Intervals "
                   "are very wide or absent, and the exact paired test (the ablation's and "
                   "the factorial's alike) cannot reach significance (smallest attainable p "
                   f"{2.0 ** (1 - len(planned)):.3g}). "
                   f"Treat every ranking here as provisional; run at least {MIN_SEEDS} seeds "
                   "(the exact paired test needs 6 to reach p < 0.05 in one row).")
    vals = t[t["value"].notna()].groupby("cell").size().reindex(t["cell"].unique(), fill_value=0)
    few = [c for c, n in vals.items() if n < MIN_SEEDS]
    if few and not (planned and len(planned) < MIN_SEEDS):
        out.append(f"{len(few)} cell(s) have fewer than {MIN_SEEDS} seeds with a value "
                   f"(diverged, undefined or missing runs): {', '.join(few)}.")
    return out


def table_note(tables: dict[str, pd.DataFrame], alpha: float = ALPHA) -> str:
    """The one sentence under the ablation tables: which test, which interval, and what the
    seed count allows."""
    if not tables:
        return ""
    ns = sorted({int(n) for df in tables.values() for n in df["n_pairs"]})
    exact = all(n <= EXACT_MAX_N for n in ns)
    test = ("the exact paired permutation (sign-flip) test on the seed differences, all "
            "2^n sign flips" if exact else
            f"the paired permutation (sign-flip) test on the seed differences ({MC_FLIPS:,} "
            f"seeded random flips where n > {EXACT_MAX_N}, else all 2^n)")
    out = (f"One test for every row: {test}, statistic |mean Δ|; it needs no normality and "
           "is valid for integer metrics with ties. Interval: the 95% CI of mean Δ by the "
           "rule of the ranked table, on the paired differences (a t-CI that excludes 0 "
           "beside p ≥ 0.05 is evidence that rests on normality). p-values Holm-corrected "
           f"over the rows of each table; * = Holm p ≤ {alpha}. changes: resolved settings "
           "that differ between the two cells besides the trick itself (a confound: the Δ "
           "is theirs too).")
    rows = max(len(df) for df in tables.values())
    nz = [int(r["n_pairs"] - r.get("n_zero", 0)) for df in tables.values()
          for _, r in df.iterrows()]
    n = max(nz) if nz else 0
    best = rows * min_p(n)
    if ns and max(ns) >= 1 and best > alpha:
        need = seeds_needed(rows, alpha)
        zeros = " (pairs with a zero difference add no evidence and are not counted)" \
            if n < max(ns) else ""
        out += (f" With {n} paired seed{'s' if n != 1 else ''} with a nonzero difference"
                f"{zeros} the smallest attainable p is {min_p(n):.3g}"
                + (f" ({min(1.0, best):.3g} after Holm over {rows} rows)" if rows > 1 else "")
                + f": no row can reach {alpha}; that takes at least {need} such seeds.")
    return out
