"""Pure expansion of a sweep spec into runs: cells x seeds, conflicts dropped with reasons.

No I/O, no training: `plan(spec)` is what `--dry-run` prints and what the scheduler enqueues.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.data import data_kind
from ganbench.metrics import available_metrics, missing_metric_hint
from ganbench.models import MODELS
from ganbench.schedules import describe
from ganbench.specs.designs import PlanError, design_for
from ganbench.specs.rules import grid_problems
from ganbench.specs.run import check_run, resolve_defaults, validate
from ganbench.tricks import TRICKS, TrickStack
from ganbench.tricks.levels import OFF, level_label, level_of


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _axis_value(cfg: RunConfig, axis: str, raw: Any) -> str:
    """An axis value in a cell's label. A model written with options is labelled with the
    options written (`model=mynet(depth=3)`): two option sets of one model are two cells,
    and the report tells cells apart by their label."""
    value = _short(getattr(cfg, axis))
    if axis in cfg.schedules:  # two cells differing by a schedule differ in their label
        value = describe(getattr(cfg, axis), cfg.schedules[axis])
    if axis == "model" and isinstance(raw, dict):
        given = [k for k in raw if k != "name"]
        if given:
            value += "(" + ",".join(f"{k}={_short(cfg.model_options[k])}" for k in given) + ")"
    return value


def canonical(cfg: RunConfig, with_seed: bool = True) -> dict[str, Any]:
    """The settings that define a run. Fields at their defaults are left out, so a release
    that adds a setting (with a default) keeps every existing run key, and resume works.
    Tricks are in the form their `identity_params` gives (TTUR's ratio as the rates it
    resolves to: `ttur: on` at lr 2e-4 keeps the key it had when it meant d 4e-4, g 1e-4).
    Model options likewise leave out those at their defaults."""
    cfg = resolve_defaults(cfg)
    d = cfg.identity(exclude_defaults=True)
    d["tricks"] = TrickStack.from_config(cfg).identity()
    # Model options as fields: those at the schema's defaults left out, and none at all
    # for a model that takes none (every key made before model options existed).
    d.pop("model_options", None)
    changed = MODELS.get(cfg.model).changed_options(cfg.model_options)
    if changed:
        d["model_options"] = changed
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
    trick_list: str  # the label's trick part ("sn+gp10", "baseline"), an MLflow param


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
    notes: list[str] = field(default_factory=list)  # found while planning, one line each


def _base_tricks(spec: SweepSpec) -> dict[str, Any]:
    """Tricks on in every cell (that none is also swept is a rule of specs/rules.py), each
    parameter written as a schedule kept as one (`{start: ..., end: ...}`), for each cell's
    config to split again: validating the tricks alone moves their schedules out."""
    try:
        cfg = RunConfig.model_validate({"tricks": spec.base.get("tricks")})
    except ValidationError as e:
        raise PlanError(("base", "tricks"), e.errors()[0]["msg"]) from None
    tricks = {name: dict(params) for name, params in cfg.tricks.items()}
    for key, schedule in cfg.schedules.items():
        trick, param = key.split(".", 1)
        tricks[trick][param] = {"start": tricks[trick][param], **schedule.model_dump()}
    return tricks


def _cells(spec: SweepSpec, levels, combos) -> tuple[list[Cell], list[tuple[str, str]]]:
    """One cell per (trick combination, axis values); conflicts dropped, duplicates merged."""
    axis_names = list(spec.axes)
    axis_values = list(itertools.product(*(spec.axes[a] for a in axis_names)))
    cells, dropped, seen = [], [], set()
    # A trick with one setting is labelled by its short name; variants by their parameters.
    single = {n for n, lvs in levels.items() if sum(lv is not OFF for lv in lvs) == 1}
    base_tricks = _base_tricks(spec)
    for combo in combos:
        tricks = {n: p for n, p in combo.items() if p is not OFF}
        trick_list = "+".join(TRICKS.get(n).short if n in single else level_label(n, p)
                              for n, p in sorted(tricks.items())) or "baseline"
        for values in axis_values:
            axes = dict(zip(axis_names, values, strict=True))
            raw = {**spec.base, **axes, "tricks": {**base_tricks, **tricks}}
            label = trick_list
            try:
                cfg = RunConfig.model_validate(raw)
            except ValidationError as e:
                err = e.errors()[0]
                where = ("axes",) if err["loc"] and err["loc"][0] in axes else ("base",)
                raise PlanError((*where, *err["loc"]), f"{err['msg']} (cell {label})") from None
            if axes:  # typed values: YAML 1.1 reads 1.0e6 as a string
                label += " · " + " ".join(f"{k}={_axis_value(cfg, k, v)}"
                                          for k, v in axes.items())
            conflicts = [f for f in check_run(cfg) if f.kind == "conflict"]
            if conflicts:
                dropped.append((label, "; ".join(map(str, conflicts))))
                continue
            cfg = validate(cfg)
            cid = digest(canonical(cfg, with_seed=False))
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(cid, label, tricks, axes, cfg, trick_list))
    return cells, dropped


def _check_metric(spec: SweepSpec, cells: list[Cell]) -> None:
    for cell in cells:
        kind = data_kind(cell.config.dataset)
        offered = available_metrics(kind, cell.config)  # image names carry fid_samples
        if spec.metric.name not in offered:
            names = ", ".join(offered) or "none"
            hint = missing_metric_hint(spec.metric.name, cell.config, kind)
            if kind == "images" and not hint:  # e.g. the 2-D default metric on images
                hint = ("; an image sweep is ranked by an image metric: add image_metrics: "
                        "[fid] (and fid_samples: N, 10000 by default) to base and metric: "
                        "{name: fidN, goal: min} (e.g. fid10k)")
            raise PlanError(("metric", "name"), f"dataset {cell.config.dataset!r} does not "
                            f"provide {spec.metric.name!r} (its metrics: {names}){hint}")


def plan(spec: SweepSpec) -> Plan:
    """Expand a spec; raises ValueError for a spec that cannot make a grid at all."""
    levels, problems = grid_problems(spec)
    if problems:
        raise PlanError(*problems[0])
    design = design_for(spec)
    design.check(levels)
    cells, dropped = _cells(spec, levels, design.combinations(levels))
    _check_metric(spec, cells)
    if not cells:
        raise PlanError((), "the grid is empty: every cell was dropped"
                         + "".join(f"\n  {lab}: {why}" for lab, why in dropped))
    runs = []
    for cell in cells:
        for seed in spec.seed_list:
            cfg = cell.config.model_copy(update={"seed": seed})
            runs.append(PlannedRun(digest(canonical(cfg)), cell, seed, cfg))
    return Plan(spec, cells, runs, dropped)


__all__ = ["Cell", "ConfigError", "Plan", "PlanError", "PlannedRun", "canonical", "digest",
           "level_label", "level_of", "plan"]
