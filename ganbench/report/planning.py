"""Seed planning before a sweep runs: how many seeds each primary comparison needs.

The comparisons are the primary analysis's own (verdict.PRIMARY over stats.ablations: each
trick level against the baseline cell, or `all − X`), found by running that code on the
planned cells. The test is the report's own (inference.py): the paired sign-flip test,
two-sided at ALPHA (exact up to EXACT_MAX_N seeds, Monte Carlo above), Holm over the table's
rows. Its power is simulated, not read off a normal formula, because at 3–10 seeds the
test's discreteness decides: n pairs cannot give p below 2^(1−n).

Model of one pair's difference (treated − reference, in the metric's units): exactly 0 with
probability `ties` (both seeds at the metric's floor or ceiling, e.g. every mode found; a
zero difference adds no evidence to the sign-flip test), else Normal(effect, sd). So
`effect` and `sd` are those of the pairs that differ.

Holm: a row counts as found when its p ≤ α / rows (Bonferroni). That is the threshold Holm
applies to the smallest p of the family, and a row that passes it is rejected by Holm
whatever the others do; Holm's later steps are looser, so the power stated is a lower bound
(conservative: it may plan a seed more than needed, never fewer).

Pure functions of numbers and DataFrames; the CLI (`ganbench sweep FILE --plan-seeds`) prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganbench.report.inference import (
    ALPHA,
    EXACT_MAX_N,
    MC_FLIPS,
    TEST_NAME,
    min_p,
    seeds_needed,
    sign_flip_p,
)

POWER = 0.8
CAP = 50  # the most seeds a plan looks at ("> 50" beyond)
SIMS = 2000  # simulated sweeps per n: power's standard error ≤ 0.011
PLAN_SEED = 0  # the plan is reproducible: same inputs, same numbers
_BLOCK = 2 ** 22  # floats in one (sign vectors × simulated tables) block of the test


def _check(effect: float, sd: float, ties: float, rows: int, power: float | None = None
           ) -> None:
    if not math.isfinite(effect) or effect <= 0:
        raise ValueError(f"--effect must be a positive number in the metric's units, got "
                         f"{effect:g}")
    if not math.isfinite(sd) or sd < 0:
        raise ValueError(f"--sd must be zero or positive, got {sd:g}")
    if not 0 <= ties < 1:
        raise ValueError(f"--ties must be a share in [0, 1), got {ties:g}")
    if rows < 1:
        raise ValueError(f"a Holm family has at least one row, got {rows}")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"--power must be in (0, 1), got {power:g}")


def differences(n: int, effect: float, sd: float, ties: float = 0.0, sims: int = SIMS,
                seed: int = PLAN_SEED) -> np.ndarray:
    """(sims, n) simulated paired differences. Each stream is drawn seed by seed (column
    by column), so the first n columns are the same for every larger n: power at n and n + 1
    is compared on the same sweeps (common random numbers), which keeps it monotone in n up to
    the test's own discreteness."""
    z_rng, u_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    z = z_rng.standard_normal((n, sims)).T
    tie = u_rng.random((n, sims)).T < ties
    return np.where(tie, 0.0, effect + sd * z)


def found(d: np.ndarray, rows: int = 1, alpha: float = ALPHA) -> np.ndarray:
    """(R,) bool: whether each simulated table's row passes p ≤ α / rows (see the module
    docstring), with the report's sign-flip test run on R tables at once in blocks."""
    d = np.asarray(d, dtype=float)
    level = alpha / rows * (1 + 1e-9)  # 2^(1−n) · rows = α exactly must pass (seeds_needed)
    # Tables whose nonzero differences are too few to reach the level are not tested.
    nonzero = (d != 0).sum(axis=1)
    hope = np.array([min_p(int(k)) <= level for k in range(d.shape[1] + 1)])[nonzero]
    out = np.zeros(len(d), dtype=bool)
    todo = np.flatnonzero(hope)
    flips = 2 ** d.shape[1] if d.shape[1] <= EXACT_MAX_N else MC_FLIPS
    step = max(1, _BLOCK // flips)
    for i in range(0, len(todo), step):
        ix = todo[i:i + step]
        out[ix] = np.atleast_1d(sign_flip_p(d[ix])) <= level
    return out


def power_at(n: int, effect: float, sd: float, ties: float = 0.0, rows: int = 1,
             alpha: float = ALPHA, sims: int = SIMS, seed: int = PLAN_SEED) -> float:
    """Simulated power of one row with n paired seeds: the share of simulated sweeps whose row
    passes the test at α / rows."""
    _check(effect, sd, ties, rows)
    if n < 1:
        return 0.0
    return float(found(differences(n, effect, sd, ties, sims, seed), rows, alpha).mean())


@dataclass(frozen=True)
class Need:
    seeds: int | None  # the smallest n with power ≥ the target; None: more than `cap`
    power: float  # simulated power at `seeds` (at `cap` when None)


def seeds_for_power(effect: float, sd: float, ties: float = 0.0, rows: int = 1,
                    power: float = POWER, alpha: float = ALPHA, cap: int = CAP,
                    sims: int = SIMS, seed: int = PLAN_SEED) -> Need:
    """The smallest n ≤ cap whose simulated power reaches `power`. Below `seeds_needed(rows)`
    the test cannot reach α / rows at all; above it power grows with n on common random
    numbers, so n is found by doubling, then bisection (about 2·log2(n) simulations)."""
    _check(effect, sd, ties, rows, power)
    d = differences(cap, effect, sd, ties, sims, seed)
    cache: dict[int, float] = {}

    def pw(n: int) -> float:
        if n not in cache:
            cache[n] = float(found(d[:, :n], rows, alpha).mean())
        return cache[n]

    lo = seeds_needed(rows, alpha)
    if lo > cap:
        return Need(None, 0.0)
    hi = lo
    while pw(hi) < power:  # doubling first: the cheap small n before the costly large ones
        if hi == cap:
            return Need(None, pw(cap))
        lo, hi = hi, min(cap, 2 * hi)
    if hi == lo:
        return Need(lo, pw(lo))
    while hi - lo > 1:  # invariant: pw(lo) < power ≤ pw(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pw(mid) >= power else (mid, hi)
    return Need(hi, pw(hi))


def plan_seeds(comparisons: pd.DataFrame, effect: float, power: float = POWER,
               seeds_now: int | None = None, alpha: float = ALPHA, cap: int = CAP,
               sims: int = SIMS, seed: int = PLAN_SEED) -> pd.DataFrame:
    """One row per comparison of the primary table (columns `sd` and `ties` at least; Holm
    over all of its rows): adds `seeds` (the seeds needed, <NA> above `cap`), `power` (at
    those seeds) and `power_now` (at `seeds_now`, the sweep's current count)."""
    rows = len(comparisons)
    if rows == 0:
        raise ValueError("the sweep has no primary comparison to plan for: it needs a baseline "
                         "cell and at least one trick level (or axis level) against it")
    out = comparisons.copy()
    needs, now = {}, {}
    for key in dict.fromkeys(zip(out["sd"], out["ties"], strict=True)):  # equal rows once
        needs[key] = seeds_for_power(effect, key[0], key[1], rows, power, alpha, cap, sims,
                                     seed)
        if seeds_now is not None:
            now[key] = power_at(seeds_now, effect, key[0], key[1], rows, alpha, sims, seed)
    keys = list(zip(out["sd"], out["ties"], strict=True))
    out["seeds"] = pd.array([needs[k].seeds for k in keys], dtype="Int64")
    out["power"] = [needs[k].power for k in keys]
    out["power_now"] = [now.get(k, math.nan) for k in keys]
    out.attrs.update(effect=effect, target=power, alpha=alpha, rows=rows, cap=cap,
                     sims=sims, seeds_now=seeds_now)
    return out


def summary(plan: pd.DataFrame) -> str:
    """The one sentence that says what the numbers are."""
    a = plan.attrs
    rows = a["rows"]
    return (f"Seeds for {a['target']:.0%} power to find a difference of {a['effect']:g} with "
            f"the report's primary test: the {TEST_NAME} test (two-sided, α = "
            f"{a['alpha']:g}; Monte Carlo above {EXACT_MAX_N} seeds), Holm over its {rows} "
            f"row{'s' if rows != 1 else ''}, counted conservatively as p ≤ α/{rows} "
            f"(Bonferroni); power simulated on {a['sims']:,} sweeps (each pair's difference "
            "exactly 0 at the tie share, else normal with that mean and sd).")


# ------------------------------------------------------------------ which comparisons


def planned_runs(cells) -> pd.DataFrame:
    """A runs frame (shaped like MLflowStore.runs_frame(), one finished-looking run without a
    value per planned cell) carrying the params a sweep's worker logs, so that the report's
    own code finds the factors and the comparisons. `cells`: the plan's cells (label,
    config), in plan order (an axis's first value is its reference, as in the report)."""
    from ganbench.config import RunConfig
    from ganbench.tracking.base import flatten

    drop = set(RunConfig.not_identity()) | {"name", "plugins", "data_root"}
    rows = []
    for c in cells:
        params = flatten(c.config.model_dump(mode="json", exclude=drop))
        rows.append({"run_id": c.label, "run_name": c.label, "tags.ganbench.cell": c.label,
                     "tags.ganbench.run_key": c.label, "tags.status": "finished",
                     "params.seed": "0", **{f"params.{k}": v for k, v in params.items()}})
    return pd.DataFrame(rows)


def primary_comparisons(t: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The primary table's name and its rows (term, context, reference, treated) for a tidy
    runs frame (frame.tidy_runs): stats.ablations, then the first of verdict.PRIMARY, as the
    report picks it."""
    from ganbench.report.stats import ablations
    from ganbench.report.verdict import PRIMARY

    tables = ablations(t)
    for name in PRIMARY:
        if name in tables:
            return name, tables[name][["term", "context", "reference", "treated"]].copy()
    raise ValueError("the sweep has no primary comparison to plan for: it needs a baseline "
                     "cell (every trick off) and at least one trick level against it")


def pilot_spread(t: pd.DataFrame, comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per comparison, what a pilot sweep's runs (tidy frame) say about its paired
    differences: `sd` (of the nonzero differences, the model's normal part; of all of them
    where fewer than 2 differ), `ties` (share exactly 0), `pilot_pairs`. A comparison whose
    cells the pilot lacks takes the pilot's largest sd and tie share (conservative), marked
    in `source`. Refused: a pilot with no comparison of 2 or more paired seeds."""
    wide = t.pivot_table(index="seed", columns="cell", values="value", aggfunc="first")
    own = []
    for ref, trt in zip(comparisons["reference"], comparisons["treated"], strict=True):
        if ref not in wide or trt not in wide:
            own.append(None)
            continue
        d = (wide[trt] - wide[ref]).dropna().to_numpy()
        if len(d) < 2:
            raise ValueError(f"the pilot has {len(d)} paired seed(s) with a value for "
                             f"{trt} against {ref}; a spread needs at least 2")
        nz = d[d != 0]
        sd = float(np.std(nz if len(nz) >= 2 else d, ddof=1))
        own.append((sd, float(np.mean(d == 0)), len(d)))
    seen = [o for o in own if o is not None]
    if not seen:
        raise ValueError("the pilot has none of this sweep's compared cells ("
                         + ", ".join(dict.fromkeys(comparisons["treated"])) + ")")
    worst = (max(o[0] for o in seen), max(o[1] for o in seen), min(o[2] for o in seen))
    out = comparisons.copy()
    out["sd"] = [(o or worst)[0] for o in own]
    out["ties"] = [(o or worst)[1] for o in own]
    out["pilot_pairs"] = [(o or worst)[2] for o in own]
    out["source"] = ["pilot" if o else "pilot (largest; cells not in it)" for o in own]
    return out
