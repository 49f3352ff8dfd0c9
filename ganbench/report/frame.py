"""A tidy runs table for the statistics: one row per run key, its cell, seed, status, value,
metric protocol and the level of every factor (swept trick or non-trick axis).

Pure: works on a DataFrame shaped like MLflowStore.runs_frame(), so a report is rebuilt from
the tracking store alone. Factors are read from the runs' params, not from the sweep file:
`params.tricks.<trick>[.<param>]` (a trick without params columns is off) and every other
run setting whose value varies across runs (an axis such as `loss`).

A run's value is its *final* metric (`eval/<metric>/final`). Where that is undefined (reverse
KL with no high-quality sample: NaN, which MLflow does not store) the value stays undefined
and is counted per cell; it never falls back to a value logged at an earlier step.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from ganbench.config import RunConfig
from ganbench.report.tables import latest_attempts

OFF = "off"
_TRICKS = "params.tricks."
_PER_TRICK = "params.trick."  # trick.<name> = off/on/label: the UI's copy of the trick factors
# resolved.<setting>: what a run actually trained with once its tricks were applied (lr per
# net, batch, D steps per G step, ...): never a factor, compared between cells as confounds.
_RESOLVED = "params.resolved."
# Run settings that never define a cell (seed is the replicate; the rest are not in the key).
_NOT_FACTORS = {"seed", "trick_list", "tricks"} | RunConfig.not_identity()


@dataclass(frozen=True)
class Factor:
    """A two-or-more-level factor of the design; `reference` is the level effects are against."""

    name: str  # trick name ("spectral_norm") or run setting ("loss")
    kind: str  # "trick" | "axis"
    reference: str  # "off" for tricks; the plan's first value for axes
    levels: tuple[str, ...]  # the other levels, in order

    def term(self, level: str) -> str:
        """How an effect of this level is named: the trick, or 'gp10' / 'loss=hinge'."""
        if self.kind == "axis":
            return f"{self.name}={level}"
        return self.name if len(self.levels) == 1 else level


def protocol_column(runs: pd.DataFrame, metric: str) -> str | None:
    """Where a run records how `metric` was measured (e.g. FID's reference set and sample
    count): `tags.protocol.<metric>`, else `tags.protocol`; None = one protocol for all."""
    for col in (f"tags.protocol.{metric}", "tags.protocol"):
        if col in runs.columns:
            return col
    return None


def _short(trick: str) -> str:
    from ganbench.tricks import TRICKS

    return TRICKS.get(trick).short if trick in TRICKS else trick


def _num(v: str):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


def _trick_levels(runs: pd.DataFrame) -> dict[str, pd.Series]:
    """Per trick: each run's level label ('off', 'sn', or 'gp10' when levels differ)."""
    names = sorted({c[len(_TRICKS):].split(".")[0] for c in runs.columns
                    if c.startswith(_TRICKS)})
    out = {}
    for name in names:
        cols = sorted(c for c in runs.columns
                      if c == _TRICKS + name or c.startswith(f"{_TRICKS}{name}."))
        keys = [None if all(_missing(r[c]) for c in cols) else
                json.dumps({c[len(_TRICKS + name) + 1:]: r[c] for c in cols if not _missing(r[c])},
                           sort_keys=True)
                for _, r in runs.iterrows()]
        distinct = sorted({k for k in keys if k is not None})
        labels = {}
        for k in distinct:
            params = json.loads(k)
            # Only the parameters that tell levels apart go into the label.
            varying = {p: _num(v) for p, v in params.items()
                       if any(json.loads(o).get(p) != v for o in distinct)}
            labels[k] = _level_label(name, varying) if len(distinct) > 1 else _short(name)
        out[name] = pd.Series([labels[k] if k else OFF for k in keys], index=runs.index)
    return out


def _level_label(trick: str, params: dict) -> str:
    from ganbench.tricks.levels import level_label  # lazy: the registry imports torch

    try:
        return level_label(trick, params)
    except (KeyError, ValueError):  # a trick no longer registered
        return trick + "(" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


POINT_METRICS = ("mode_score", "modes", "modes_hq", "hq", "reverse_kl")
# Shown beside a 2-D mixture's ranking metric, from the same runs: modes alone rewards noise.
COMPANIONS = ("modes", "hq", "reverse_kl")
# Cost column -> the metric train/runlog.py logs it as (wall time is `perf/`: wall clock).
COSTS = {"seconds": "perf/seconds", "d_steps": "cost/d_steps", "g_steps": "cost/g_steps"}


def _col(runs: pd.DataFrame, name: str) -> pd.Series:
    if name in runs:
        return pd.to_numeric(runs[name], errors="coerce")
    return pd.Series(math.nan, index=runs.index)


def _records_finals(runs: pd.DataFrame) -> pd.Series:
    """Runs that log `eval/<m>/final` at their end (every run since finals exist): for them a
    missing final means the metric was undefined at the end, not 'look at an earlier step'.
    MLflow drops NaN values, so an undefined final leaves no trace but this."""
    cols = [c for c in runs.columns if c.startswith("metrics.eval/") and c.endswith("/final")]
    cols += [c for c in runs.columns if c.startswith("metrics.cost/")]  # logged with finals
    has = runs[cols].notna().any(axis=1) if cols else pd.Series(False, index=runs.index)
    if "tags.undefined_final" in runs:
        has |= runs["tags.undefined_final"].notna()
    return has


def final_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """Each run's final `metric`: `eval/<metric>/final`; NaN where the run records finals but
    not this one (undefined at the end). Runs recorded before finals existed fall back to
    the plain key's latest value. `modes_hq` and `mode_score` of runs recorded before they
    existed are derived from their final modes and hq (the same rules as metrics/mog.py)."""
    value = _col(runs, f"metrics.eval/{metric}/final")
    legacy = ~_records_finals(runs)
    value = value.where(~(value.isna() & legacy), _col(runs, f"metrics.eval/{metric}"))
    if metric in ("modes_hq", "mode_score") and value.isna().any():
        from ganbench.metrics.mog import gate_modes, mode_score

        rule = gate_modes if metric == "modes_hq" else mode_score
        modes, hq = final_values(runs, "modes"), final_values(runs, "hq")
        derived = pd.Series([rule(m, h) if m == m and h == h else math.nan
                             for m, h in zip(modes, hq, strict=True)], index=runs.index)
        value = value.fillna(derived)
    return value


def tidy_runs(runs: pd.DataFrame, metric: str, order: list[str] | None = None) -> pd.DataFrame:
    """One row per run key (its result, else its last try): run_id, run_name, cell, seed,
    status, value (the final `eval/<metric>`, NaN unless finished), undefined (finished but
    the final value is undefined: counted, never averaged), protocol, eval_draws and eval_sd
    (the final evaluation's draws and the metric's sd over them, NaN when not measured),
    `metric:<name>` for the companion metrics of 2-D mixtures, `cost:<name>` where runs
    logged costs, and one column per factor holding its level. attrs: factors, companions, costs.

    `order`: cell labels in plan order; fixes row order and each axis's reference level.
    """
    if runs.empty:
        raise ValueError("no runs to report on")
    runs = latest_attempts(runs).reset_index(drop=True)
    if "params.eval_repeats" in runs:
        # Runs recorded before eval_repeats existed were scored with one draw: the same
        # setting, not another level of an axis.
        runs["params.eval_repeats"] = runs["params.eval_repeats"].fillna("1")
    value = final_values(runs, metric)
    finished = runs["status"] == "finished"
    companions = [m for m in COMPANIONS if metric in POINT_METRICS and m != metric
                  and (f"metrics.eval/{m}/final" in runs or f"metrics.eval/{m}" in runs)]
    costs = [c for c, key in COSTS.items() if f"metrics.{key}" in runs]
    proto = protocol_column(runs, metric)
    t = pd.DataFrame({
        "run_id": runs["run_id"],
        "run_name": runs.get("run_name", runs["run_id"]),
        "cell": runs["tags.ganbench.cell"].fillna("?"),
        "seed": pd.to_numeric(runs.get("params.seed", pd.Series(0, index=runs.index)),
                              errors="coerce").fillna(-1).astype(int),
        "status": runs["status"],
        "value": value.where(finished),
        "undefined": finished & value.isna(),
        "protocol": runs[proto].fillna("(none recorded)") if proto else "",
        "diverged_step": pd.to_numeric(runs.get("tags.diverged_step"), errors="coerce")
        if "tags.diverged_step" in runs else math.nan,
        # Evaluation noise (report/evalnoise.py): the final evaluation's draws and the sd of
        # the metric over them (NaN: not measured, one draw); the value is the first draw.
        "eval_draws": _col(runs, "params.eval_repeats").fillna(1).astype(int),
        "eval_sd": _col(runs, f"metrics.eval/{metric}_eval_sd").where(finished),
    })
    for m in companions:
        t[f"metric:{m}"] = final_values(runs, m).where(finished)
    for c in costs:
        t[f"cost:{c}"] = _col(runs, f"metrics.{COSTS[c]}")
    settings = sorted(c[len(_RESOLVED):] for c in runs.columns if c.startswith(_RESOLVED))
    for c in settings:
        t[f"setting:{c}"] = runs[_RESOLVED + c]
    stacked = _col(runs, "tags.vectorised_seeds").fillna(1)
    rank = {c: i for i, c in enumerate(order or [])}
    t["_order"] = t["cell"].map(lambda c: rank.get(c, len(rank)))
    t = t.sort_values(["_order", "cell", "seed"], kind="stable").drop(columns="_order")
    runs = runs.loc[t.index]
    t = t.reset_index(drop=True)
    runs = runs.reset_index(drop=True)
    factors = []
    for name, levels in _trick_levels(runs).items():
        seen = list(dict.fromkeys(levels))
        if len(seen) > 1:
            t[name] = levels
            ref = OFF if OFF in seen else seen[0]  # a trick on in every cell, at two settings
            factors.append(Factor(name, "trick", ref, tuple(lv for lv in seen if lv != ref)))
    for c in runs.columns:
        name = c[len("params."):]
        if (not c.startswith("params.") or c.startswith((_TRICKS, _PER_TRICK, _RESOLVED))
                or name in _NOT_FACTORS):
            continue
        values = runs[c].astype(str)
        seen = list(dict.fromkeys(values))  # plan order: the first cell's value is the reference
        if len(seen) > 1:
            t[name] = values
            factors.append(Factor(name, "axis", seen[0], tuple(seen[1:])))
    datasets = runs["params.dataset"].dropna().unique() if "params.dataset" in runs else []
    t.attrs.update(metric=metric, factors=factors, protocol_column=proto,
                   companions=companions, costs=costs, stacked=int(stacked.max()),
                   settings=settings, dataset=str(datasets[0]) if len(datasets) == 1 else None)
    return t


def factors_of(t: pd.DataFrame) -> list[Factor]:
    return list(t.attrs.get("factors", []))


def companions_of(t: pd.DataFrame) -> list[str]:
    return list(t.attrs.get("companions", []))


def costs_of(t: pd.DataFrame) -> list[str]:
    return list(t.attrs.get("costs", []))


def cell_settings(t: pd.DataFrame, cell: str) -> dict[str, str]:
    """The resolved settings a cell's runs trained with (its first run's; a setting the runs
    did not record is left out)."""
    g = t[t["cell"] == cell]
    out = {}
    for s in t.attrs.get("settings", []):
        v = g[f"setting:{s}"].dropna()
        if len(v):
            out[s] = str(v.iloc[0])
    return out


def confounds(t: pd.DataFrame, ref: str, trt: str) -> list[str]:
    """What the treated cell changes besides its own factor level, relative to the reference:
    one phrase per resolved setting that differs (ganbench/effective.py)."""
    from ganbench.effective import confounds as phrases

    return phrases(cell_settings(t, ref), cell_settings(t, trt))
