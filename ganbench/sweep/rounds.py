"""Sequential seeds in a sweep (`seeds: {min, max, step}`): how many seeds each cell gets now.

The decision is a pure function of the plan and the runs recorded so far, so a resumed sweep,
a second controller or `ganbench status` all reach the same one: every cell gets `min` seeds,
and the cells of the primary comparisons still open get their next look's (report/
sequential.py). A round is the plan trimmed to those counts; `ganbench sweep` runs rounds
until none adds a run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ganbench.sweep.design import Plan

if TYPE_CHECKING:  # the statistics load only for a sequential sweep (scipy, statsmodels)
    from ganbench.report.sequential import Row, Rule

RESULT = ("finished", "diverged")  # a run with a result (a failed one is run again)


@dataclass
class Round:
    rule: Rule
    table: str  # the primary table the comparisons are the rows of
    rows: list[Row]
    targets: dict[str, int]  # cell label -> seeds it gets now

    @property
    def open(self) -> list[Row]:
        return [r for r in self.rows if r.decided_at is None]


def comparisons(p: Plan) -> tuple[str, pd.DataFrame]:
    """The primary analysis's rows for the plan's cells (the report's own code decides)."""
    from ganbench.report.frame import tidy_runs
    from ganbench.report.planning import planned_runs, primary_comparisons

    t = tidy_runs(planned_runs(p.cells), p.spec.metric.name, [c.label for c in p.cells])
    return primary_comparisons(t)


def check(p: Plan) -> None:
    """ValueError unless the plan can run sequentially (a primary comparison exists)."""
    comparisons(p)


def _results(p: Plan, runs: pd.DataFrame | None) -> pd.DataFrame:
    """seed × cell: the final value of each run with a result (NaN: a result without a value,
    e.g. diverged), absent where no result yet."""
    cols = [c.label for c in p.cells]
    if runs is None or runs.empty or "tags.ganbench.run_key" not in runs:
        return pd.DataFrame(columns=cols, dtype=float)
    from ganbench.report.frame import tidy_runs

    keys = {r.run_key for r in p.runs}
    runs = runs[runs["tags.ganbench.run_key"].isin(keys)]
    if runs.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    t = tidy_runs(runs.reset_index(drop=True), p.spec.metric.name, cols)
    t = t[t["status"].isin(RESULT)]
    # A result without a value is kept as a marker (inf), told apart from "no result".
    v = t["value"].where(t["value"].notna(), np.inf)
    return t.assign(value=v).pivot_table(index="seed", columns="cell", values="value",
                                         aggfunc="first")


def state(p: Plan, runs: pd.DataFrame | None) -> Round:
    """Where the sequential sweep stands: each primary row's state and each cell's seeds."""
    from ganbench.report.sequential import rows_state, targets

    rule = p.spec.sequential.rule()
    table, comp = comparisons(p)
    wide = _results(p, runs)
    seeds = p.spec.seed_list
    pairs = []
    for _, r in comp.iterrows():
        d, holes = [], 0
        for s in seeds:  # the seeds both cells have results for, from the first on
            a = wide.at[s, r["reference"]] if s in wide.index and r["reference"] in wide else None
            b = wide.at[s, r["treated"]] if s in wide.index and r["treated"] in wide else None
            if a is None or b is None or pd.isna(a) or pd.isna(b):
                break
            if np.isfinite(a) and np.isfinite(b):
                d.append(b - a)
            else:
                holes += 1
        pairs.append((r["reference"], r["treated"], r["term"], np.asarray(d, float), holes))
    rows = rows_state(pairs, rule)
    want = targets(rows, [c.label for c in p.cells], rule)
    return Round(rule, table, rows, {c: min(n, rule.max) for c, n in want.items()})


def trim(p: Plan, rnd: Round) -> Plan:
    """The plan's runs up to each cell's seeds now (seed i is the i-th of 0..max−1)."""
    keep = [r for r in p.runs if r.seed < rnd.targets.get(r.cell.label, rnd.rule.min)]
    return replace(p, runs=keep)


def describe(rnd: Round) -> list[str]:
    """One line per primary row: its state and seeds (for `sweep` and `status`)."""
    out = []
    for r in rnd.rows:
        if r.decided_at is not None:
            what = f"decided at {r.decided_at} paired seeds"
        elif r.next_n:
            what = f"open at {r.n} paired seeds; next look at {r.next_n}"
        else:
            what = f"open at max ({r.n} paired seeds)"
        out.append(f"{r.term}: {what}")
    return out
