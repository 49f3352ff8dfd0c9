"""Pure expansion of a sweep spec into runs: cells x seeds, conflicts dropped with reasons.

No I/O, no training: `plan(spec)` is what `--dry-run` prints and what the scheduler enqueues.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.data import data_kind
from ganbench.metrics import available_metrics, missing_metric_hint
from ganbench.sweep.fractional import fractional_rows
from ganbench.tricks import TRICKS
from ganbench.validate import check_run, resolve_defaults, validate

OFF = None  # the level meaning "trick not listed"


class PlanError(ValueError):
    """A spec that cannot make a grid; `loc` is the field path, for file:line messages."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        self.loc, self.message = loc, message
        super().__init__(f"{'.'.join(map(str, loc))}: {message}" if loc else message)



def level_of(raw: Any) -> dict[str, Any] | None:
    """YAML level -> params: off/false/null -> None; on/true -> {} (paper defaults)."""
    if raw is None or raw is False or raw == "off":
        return OFF
    if raw is True or raw == "on":
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    raise ValueError(f"a trick level is off, on or a mapping of parameters, got {raw!r}")


def level_label(trick: str, params: dict[str, Any]) -> str:
    short = TRICKS.get(trick).short
    if not params:
        return short
    if len(params) == 1:
        (v,) = params.values()
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f"{short}{v:g}"
    inner = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{short}({inner})"


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def canonical(cfg: RunConfig, with_seed: bool = True) -> dict[str, Any]:
    """The settings that define a run. Fields at their defaults are left out, so a release
    that adds a setting (with a default) keeps every existing run key, and resume works."""
    d = resolve_defaults(cfg).identity(exclude_defaults=True)
    d["tricks"] = dict(sorted(d.get("tricks", {}).items()))
    d["seed"] = cfg.seed  # always explicit, even at its default 0
    if not with_seed:
        d.pop("seed")
    return d


def digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Cell:
    cell_id: str  # hash of the config without seed
    label: str  # readable: "sn+gp10" or "baseline", plus non-trick axes
    tricks: dict[str, dict[str, Any]]
    axes: dict[str, Any]
    config: RunConfig  # seed 0 placeholder; runs set their seed


@dataclass(frozen=True)
class PlannedRun:
    run_key: str
    cell: Cell
    seed: int
    config: RunConfig

    @property
    def run_name(self) -> str:
        return f"{self.cell.label} · s{self.seed}"


@dataclass
class Plan:
    spec: SweepSpec
    cells: list[Cell]
    runs: list[PlannedRun]
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (cell label, reason)


def _trick_levels(spec: SweepSpec) -> dict[str, list[dict[str, Any] | None]]:
    levels = {}
    for name, raws in spec.tricks.items():
        if name not in TRICKS:
            raise PlanError(("tricks", name), TRICKS.unknown_message(name))
        if not raws:
            raise PlanError(("tricks", name), "give at least one level (off, on or parameters)")
        levels[name] = []
        for i, raw in enumerate(raws):
            try:
                lv = level_of(raw)
                if lv is not OFF:
                    TRICKS.get(name).Params.model_validate(lv)
            except (ValueError, ValidationError) as e:
                msg = str(e)
                if isinstance(e, ValidationError):
                    err = e.errors()[0]
                    msg = f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                raise PlanError(("tricks", name, i), msg) from None
            levels[name].append(lv)
    return levels


def _base_tricks(spec: SweepSpec) -> dict[str, Any]:
    """Tricks on in every cell; a trick cannot be both always on and swept."""
    try:
        base = RunConfig.model_validate({"tricks": spec.base.get("tricks")}).tricks
    except ValidationError as e:
        raise PlanError(("base", "tricks"), e.errors()[0]["msg"]) from None
    for name in base:
        if name in spec.tricks:
            raise PlanError(("tricks", name), "also listed in base.tricks; list a trick either "
                            "as always on (base.tricks) or as swept (tricks), not both")
    return base


def _combinations(spec: SweepSpec, levels) -> list[dict[str, dict | None]]:
    names = list(levels)
    two_level = spec.design in ("leave-one-out", "fractional")
    if two_level:
        for n in names:
            if len(levels[n]) != 2 or sum(lv is OFF for lv in levels[n]) != 1:
                raise PlanError(("tricks", n),
                                f"design {spec.design!r} needs two levels (off and one setting), "
                                f"got {len(levels[n])}; use design: full or one-at-a-time")
    on = {n: next((lv for lv in levels[n] if lv is not OFF), OFF) for n in names}
    if spec.design == "full":
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(levels[n] for n in names))]
    if spec.design == "one-at-a-time":
        out = [dict.fromkeys(names, OFF)]
        for n in names:
            out += [{**dict.fromkeys(names, OFF), n: lv} for lv in levels[n] if lv is not OFF]
        return out
    if spec.design == "leave-one-out":
        everything = dict(on)
        return [everything] + [{**everything, n: OFF} for n in names]
    rows = fractional_rows(len(names), spec.resolution)
    return [{n: (on[n] if bit else OFF) for n, bit in zip(names, row, strict=True)}
            for row in rows]


def plan(spec: SweepSpec) -> Plan:
    """Expand a spec; raises ValueError for a spec that cannot make a grid at all."""
    levels = _trick_levels(spec)
    for axis in spec.axes:
        reserved = {"tricks": "tricks: sweeps tricks", "seed": "seeds: sets the seeds",
                    "name": "runs are named by their cell"}
        if axis in reserved:
            raise PlanError(("axes", axis), f"cannot be an axis ({reserved[axis]})")
        if axis not in RunConfig.model_fields:
            fields = [f for f in RunConfig.model_fields if f not in reserved]
            close = difflib.get_close_matches(axis, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PlanError(("axes", axis), f"not a run setting{hint}")
        if not spec.axes[axis]:
            raise PlanError(("axes", axis), "give at least one value")
    combos = _combinations(spec, levels)
    axis_names = list(spec.axes)
    axis_values = list(itertools.product(*(spec.axes[a] for a in axis_names)))
    cells, dropped, seen = [], [], set()
    # A trick with one setting is labelled by its short name; variants by their parameters.
    single = {n for n, lvs in levels.items() if sum(lv is not OFF for lv in lvs) == 1}
    base_tricks = _base_tricks(spec)
    for combo in combos:
        tricks = {n: p for n, p in combo.items() if p is not OFF}
        for values in axis_values:
            axes = dict(zip(axis_names, values, strict=True))
            raw = {**spec.base, **axes, "tricks": {**base_tricks, **tricks}}
            label = "+".join(TRICKS.get(n).short if n in single else level_label(n, p)
                             for n, p in sorted(tricks.items())) or "baseline"
            try:
                cfg = RunConfig.model_validate(raw)
            except ValidationError as e:
                err = e.errors()[0]
                where = ("axes",) if err["loc"] and err["loc"][0] in axes else ("base",)
                raise PlanError((*where, *err["loc"]), f"{err['msg']} (cell {label})") from None
            if axes:  # typed values: YAML 1.1 reads 1.0e6 as a string
                label += " · " + " ".join(f"{k}={_short(getattr(cfg, k))}" for k in axes)
            conflicts = [f for f in check_run(cfg) if f.kind == "conflict"]
            if conflicts:
                dropped.append((label, "; ".join(map(str, conflicts))))
                continue
            cfg = validate(cfg)
            cid = digest(canonical(cfg, with_seed=False))
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(cid, label, tricks, axes, cfg))
    for cell in cells:
        kind = data_kind(cell.config.dataset)
        offered = available_metrics(kind, cell.config)  # image names carry fid_samples
        if spec.metric.name not in offered:
            names = ", ".join(offered) or "none"
            hint = missing_metric_hint(spec.metric.name, cell.config) if kind == "images" else ""
            raise PlanError(("metric", "name"), f"dataset {cell.config.dataset!r} does not "
                            f"provide {spec.metric.name!r} (its metrics: {names}){hint}")
    if not cells:
        raise PlanError((), "the grid is empty: every cell was dropped"
                         + "".join(f"\n  {lab}: {why}" for lab, why in dropped))
    runs = []
    for cell in cells:
        for seed in spec.seed_list:
            cfg = cell.config.model_copy(update={"seed": seed})
            runs.append(PlannedRun(digest(canonical(cfg)), cell, seed, cfg))
    return Plan(spec, cells, runs, dropped)


__all__ = ["Cell", "ConfigError", "Plan", "PlanError", "PlannedRun", "canonical", "digest", "plan"]
