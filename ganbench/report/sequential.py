"""Sequential seeds: the group-sequential form of the primary analysis's sign-flip test.

A sweep with `seeds: {min, max, step}` runs `min` seeds per cell, then adds `step` seeds at a
time only to the comparisons of the primary analysis (`baseline + X`, else `all − X`) that are
still open, until each is decided or has `max` seeds. Looks happen at n = min, min + step, …,
max paired seeds (fixed in advance, so the looks never depend on the data).

The test at each look is the exact paired sign-flip test made group-sequential by error
spending (Lan & DeMets 1983) on the permutation distribution itself. Given the absolute
differences |d₁..dₙ| of the seeds so far, the null makes every sign vector equally likely, and
the statistic at look j is |Σ_{i ≤ nⱼ} εᵢdᵢ|. The boundary of look k is the smallest one
whose conditional probability of a crossing at look k or before stays within the cumulative
spend a·(nₖ/max)^rho; boundaries of earlier looks are recomputed from the same data, so the
whole path is exact and the level holds conditionally on the |d|, hence unconditionally
(whatever the metric's shape: bounded, integer, tied). Unused level (the test is discrete)
carries to later looks, never past a.

Several comparisons: Holm's step-down with level recycling (Maurer & Bretz 2013; Ye et al.
2013): every open comparison is tested at a = alpha/(m − r) with r already rejected, and a
rejection re-tests the others at the raised level over all their looks so far. The decisions
are a function of the recorded values alone, so a resumed or rebuilt sweep makes the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ganbench.report.inference import ALPHA, sign_vectors

RULE_NAME = "group-sequential exact paired sign-flip test"


@dataclass(frozen=True)
class Rule:
    """Looks at min, min + step, …, max paired seeds; cumulative level spent by look n:
    alpha·(n/max)^rho (rho 1: evenly; larger rho keeps more for the last look)."""

    min: int
    max: int
    step: int = 1
    rho: float = 1.0
    alpha: float = ALPHA

    @classmethod
    def of(cls, seeds) -> Rule:
        """From a sweep file's sequential seeds (config.SequentialSeeds, or its dict)."""
        get = seeds.get if isinstance(seeds, dict) else lambda k, d=None: getattr(seeds, k, d)
        return cls(int(get("min", 3)), int(get("max")), int(get("step", 1)),
                   float(get("spending", 1.0)))

    @property
    def looks(self) -> list[int]:
        return sorted(set(range(self.min, self.max, self.step)) | {self.max})

    def spend(self, n: int, level: float | None = None) -> float:
        a = self.alpha if level is None else level
        return a * min(1.0, n / self.max) ** self.rho

    def describe(self) -> str:
        return (f"{RULE_NAME}: looks at {', '.join(map(str, self.looks))} paired seeds; level "
                f"spent by look n: α·(n/{self.max})^{self.rho:g}; Holm over the rows with "
                f"level recycling, α = {self.alpha:g}")


def crossing(d: np.ndarray, rule: Rule, level: float) -> np.ndarray:
    """First look whose boundary the observed path crosses, per table.

    d: (R, n) paired differences in seed order (R tables at once, for simulations); only the
    looks with nₖ ≤ n are made. Returns (R,) int: the index into rule.looks of the first
    crossing, −1 where none."""
    d = np.atleast_2d(np.asarray(d, dtype=float))
    R, n = d.shape
    looks = [k for k in rule.looks if k <= n]
    first = np.full(R, -1)
    thresholds: list[np.ndarray] = []  # per earlier look: (R,) the (allowed+1)-th largest stat
    tol = 1e-9 * np.maximum(np.abs(d).sum(axis=1), 1e-300)
    for li, nk in enumerate(looks):
        signs = sign_vectors(nk)  # (F, nk); row 0 is the observed path (all +)
        F = len(signs)
        earlier = np.zeros((F, R), dtype=bool)
        for lj, thr in enumerate(thresholds):
            nj = looks[lj]
            stat = np.abs(signs[:, :nj] @ d[:, :nj].T)  # (F, R)
            earlier |= stat > thr[None, :] + tol[None, :]
        stat = np.abs(signs @ d[:, :nk].T)
        allowed = np.floor(rule.spend(nk, level) * F - earlier.sum(axis=0) + 1e-9).astype(int)
        free = np.sort(np.where(earlier, -np.inf, stat), axis=0)[::-1]  # descending
        # Crossing: the statistic beats the (allowed+1)-th largest free one, so at most
        # `allowed` sign vectors reach it (ties never split).
        idx = np.clip(allowed, 0, F - 1)
        thr = np.where(allowed >= 0, free[idx, np.arange(R)], np.inf)
        thr = np.where(allowed >= F, -np.inf, thr)
        thresholds.append(thr)
        hit = (first < 0) & ~earlier[0] & (stat[0] > thr + tol)
        first[hit] = li
    return first


@dataclass
class Row:
    """One comparison's state: `n` paired seeds with a value so far (in seed order), the
    look it was decided at (None: open), and the seeds it wants next (0: none)."""

    reference: str
    treated: str
    term: str
    n: int
    decided_at: int | None = None
    holes: int = 0  # seeds run in both cells without a value in both (failed runs)
    next_n: int = 0
    delta: float = math.nan

    @property
    def state(self) -> str:
        if self.decided_at is not None:
            return "decided"
        return "open" if self.next_n else "open at max"


def decide(diffs: list[np.ndarray], rule: Rule) -> list[int | None]:
    """Holm with recycling over the rows' group-sequential tests: per row, the number of
    paired seeds at which it was decided, else None."""
    m = len(diffs)
    out: list[int | None] = [None] * m
    while True:
        level = rule.alpha / max(1, m - sum(o is not None for o in out))
        new = False
        for i, d in enumerate(diffs):
            if out[i] is not None or len(d) < rule.min:
                continue
            li = int(crossing(d[None, :], rule, level)[0])
            if li >= 0:
                out[i] = [k for k in rule.looks if k <= len(d)][li]
                new = True
        if not new:
            return out


def rows_state(pairs: list[tuple[str, str, str, np.ndarray, int]], rule: Rule) -> list[Row]:
    """pairs: (reference, treated, term, the differences of the seeds both have a value
    for, in seed order, holes). Each row's state, with the paired values it needs next: the
    next look after the one its data reached, none once decided or at max."""
    decided = decide([p[3] for p in pairs], rule)
    rows = []
    for (ref, trt, term, d, holes), at in zip(pairs, decided, strict=True):
        n = len(d)
        row = Row(ref, trt, term, n, at, holes, delta=float(d.mean()) if n else math.nan)
        if at is None:
            later = [k for k in rule.looks if k > n]
            row.next_n = later[0] if later else 0
        rows.append(row)
    return rows


def targets(rows: list[Row], cells: list[str], rule: Rule) -> dict[str, int]:
    """Seeds each cell should have now: `min` for every cell, more for the cells of open
    rows (the reference as many as its most demanding row; a seed without a value in both
    cells, a failed run, is made up by one more, up to `max` values)."""
    want = dict.fromkeys(cells, rule.min)
    for r in rows:
        n = (max(r.n, r.next_n) if r.decided_at is None else r.decided_at) + r.holes
        for c in (r.reference, r.treated):
            want[c] = max(want.get(c, rule.min), n)
    return want


RESULT = ("finished", "diverged")  # a run with a result (a failed one is run again)


def pairs_from(t, comp, rule: Rule) -> list[tuple[str, str, str, np.ndarray, int]]:
    """The rows' paired differences from a tidy runs frame (report/frame.py: cell, seed,
    status, value): for each row of `comp` (reference, treated, term), the seeds 0, 1, …
    while both cells have a result, their differences where both have a value, and the
    seeds without (holes)."""
    done = t[t["status"].isin(RESULT)]
    value = {(c, s): v for c, s, v in zip(done["cell"], done["seed"], done["value"],
                                          strict=True)}
    out = []
    for ref, trt, term in zip(comp["reference"], comp["treated"], comp["term"], strict=True):
        d, holes = [], 0
        for s in range(rule.max):
            if (ref, s) not in value or (trt, s) not in value:
                break
            a, b = value[(ref, s)], value[(trt, s)]
            if a == a and b == b:  # both have a value (NaN: diverged, or undefined)
                d.append(b - a)
            else:
                holes += 1
        out.append((ref, trt, term, np.asarray(d, dtype=float), holes))
    return out


def annotate(table, t, rule: Rule):
    """The primary table with the sequential decisions: seq_at (paired seeds at the
    decision, NaN while open), seq_state (decided / open / open at max), seq_n (paired
    seeds with a value so far), seq_next; `significant` becomes the sequential decision (the
    fixed-n p of the final data would ignore the looks)."""
    rows = rows_state(pairs_from(t, table, rule), rule)
    out = table.copy()
    out["seq_at"] = [math.nan if r.decided_at is None else r.decided_at for r in rows]
    out["seq_state"] = [r.state for r in rows]
    out["seq_n"] = [r.n for r in rows]
    out["seq_next"] = [r.next_n for r in rows]
    out["significant"] = [r.decided_at is not None for r in rows]
    out.attrs.update(table.attrs, sequential=rule)
    return out
