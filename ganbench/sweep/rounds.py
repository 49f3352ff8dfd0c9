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

import pandas as pd

from ganbench.specs.plan import Plan

if TYPE_CHECKING:  # the statistics load only for a sequential sweep (scipy, statsmodels)
    from ganbench.report.sequential import Row, Rule

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


def _tidy(p: Plan, runs: pd.DataFrame | None) -> pd.DataFrame:
    """The plan's recorded runs as the report reads them (report/frame.py's tidy frame)."""
    empty = pd.DataFrame(columns=["cell", "seed", "status", "value"])
    if runs is None or runs.empty or "tags.ganbench.run_key" not in runs:
        return empty
    from ganbench.report.frame import tidy_runs

    runs = runs[runs["tags.ganbench.run_key"].isin({r.run_key for r in p.runs})]
    if runs.empty:
        return empty
    return tidy_runs(runs.reset_index(drop=True), p.spec.metric.name,
                     [c.label for c in p.cells])


def state(p: Plan, runs: pd.DataFrame | None) -> Round:
    """Where the sequential sweep stands: each primary row's state and each cell's seeds."""
    from ganbench.report.sequential import RESULT, Rule, pairs_from, rows_state, targets

    rule = Rule.of(p.spec.sequential)
    table, comp = comparisons(p)
    t = _tidy(p, runs)
    rows = rows_state(pairs_from(t, comp, rule), rule)
    want = targets(rows, [c.label for c in p.cells], rule)
    # never fewer than a cell already has (a run recorded is kept in the plan and the report)
    done = t[t["status"].isin(RESULT)].groupby("cell")["seed"].max() + 1
    return Round(rule, table, rows, {c: min(max(n, int(done.get(c, 0))), rule.max)
                                     for c, n in want.items()})


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
