"""A sweep file checked before its grid is expanded: every mistake with its file:line.

The expansion (sweep/planner.py) would find most of these too, but only cell by cell, after
building the whole grid, and without the place in the file. Here each base setting, axis value,
trick level and the metric is checked once, and the grid's size is known before it exists.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec, explain, line_of
from ganbench.data import data_kind
from ganbench.limits import work_message
from ganbench.metrics import available_metrics, metric_goal, metric_names
from ganbench.schedules import starts
from ganbench.sweep.designs import DESIGNS
from ganbench.tricks import TRICKS
from ganbench.validate import level_schedule_problems, validate
from ganbench.validate_tune import check_tune  # tuning
from ganbench.yamlfile import cap_lines

DEFAULT_MAX_RUNS = 10_000
RESERVED_AXES = {"tricks": "tricks: sweeps tricks", "seed": "seeds: sets the seeds",
                 "name": "runs are named by their cell"}


def grid_size(spec: SweepSpec) -> tuple[int, int]:
    """(cells, runs) before conflicting cells are dropped; the design counts its own cells
    (Design.cells), nothing is built."""
    cells = DESIGNS.get(spec.design)(spec).cells([len(v) for v in spec.tricks.values()])
    cells *= math.prod(len(v) for v in spec.axes.values())
    return cells, cells * spec.n_seeds


def check_size(spec: SweepSpec, path: Path, node: yaml.Node | None, max_runs: int) -> None:
    """Every run the sweep would enqueue (cells x seeds, and a tuned sweep's trials: cells x
    budget x tune_seeds) against the one limit, with its size and the field that makes it."""
    cells, runs = grid_size(spec)
    what = f"the grid has {cells:,} cells x {spec.n_seeds:,} seeds"
    trials = 0
    if spec.tune is not None:
        trials = cells * spec.tune.budget * spec.tune.tune_seeds
        what += (f" + {cells:,} cells x {spec.tune.budget:,} trials x {spec.tune.tune_seeds} "
                 "tune_seeds")
    msg = work_message(what, runs + trials, max_runs)
    if msg is None:
        return
    at: tuple[str, ...] = (
        ("tune", "budget") if trials > runs else
        ("seeds",) if spec.n_seeds > max_runs and "seeds" in spec.model_fields_set else
        ("tricks",) if spec.tricks else ("axes",))
    raise ConfigError(
        f"{path}:{line_of(node, *at)}: {'.'.join(at)}: {msg}, or use fewer levels, seeds or "
        "trials (design: one-at-a-time or fractional grow linearly)")


def check_design(spec: SweepSpec, path: Path, node: yaml.Node | None) -> None:
    """`design:` names a registered design (built-in or a plugin's, loaded by now)."""
    if spec.design not in DESIGNS:
        raise ConfigError(f"{path}:{line_of(node, 'design')}: design: "
                          f"{DESIGNS.unknown_message(spec.design)}")


def validate_sweep(spec: SweepSpec, path: Path | str, node: yaml.Node | None,
                   max_runs: int | None = None) -> None:
    """Raise one ConfigError listing every problem (capped), each with its file:line."""
    path = Path(path)
    check_design(spec, path, node)  # first: the size check asks the design
    if max_runs is not None:
        check_size(spec, path, node, max_runs)
    problems = _axes(spec, path, node) + _tricks(spec, path, node)
    if "seed" in spec.base:
        problems.append(f"{path}:{line_of(node, 'base', 'seed')}: base.seed: seeds come from "
                        f"`seeds:` (e.g. seeds: [{spec.base['seed']}]), not from base")
    if not problems:
        problems = _settings(spec, path, node)
    if not problems:
        problems = _metric(spec, path, node)
    # ---- tuning: the tune: block's names, ranges and sampler (validate_tune.py)
    if not problems:
        problems = check_tune(spec, path, node)
    # ---- end of tuning
    if problems:
        raise ConfigError(cap_lines(list(dict.fromkeys(problems))))


def _axes(spec: SweepSpec, path: Path, node) -> list[str]:
    out = []
    for axis, values in spec.axes.items():
        where = f"{path}:{line_of(node, 'axes', axis)}: axes.{axis}"
        if axis in RESERVED_AXES:
            out.append(f"{where}: cannot be an axis ({RESERVED_AXES[axis]})")
        elif axis not in RunConfig.model_fields:
            fields = [f for f in RunConfig.model_fields if f not in RESERVED_AXES]
            close = difflib.get_close_matches(axis, fields, n=1)
            out.append(f"{where}: not a run setting" + (f"; did you mean {close[0]!r}?"
                                                          if close else ""))
        elif not values:
            out.append(f"{where}: give at least one value")
    return out


def _level(raw: Any) -> dict[str, Any] | None | str:
    """What design.level_of reads: None (off), a params mapping, or an error string."""
    if raw is None or raw is False or raw == "off":
        return None
    if raw is True or raw == "on":
        return {}
    if isinstance(raw, dict):
        return raw
    return f"a trick level is off, on or a mapping of parameters, got {raw!r}"


def _tricks(spec: SweepSpec, path: Path, node) -> list[str]:
    out = []
    for name, raws in spec.tricks.items():
        where = f"{path}:{line_of(node, 'tricks', name)}: tricks.{name}"
        if name not in TRICKS:
            out.append(f"{where}: {TRICKS.unknown_message(name)}")
            continue
        if not raws:
            out.append(f"{where}: give at least one level (off, on or parameters)")
        params = TRICKS.get(name).Params
        for i, raw in enumerate(raws):
            lv = _level(raw)
            if isinstance(lv, str):
                out.append(f"{path}:{line_of(node, 'tricks', name, i)}: tricks.{name}.{i}: {lv}")
            elif lv is not None:
                try:
                    params.model_validate(starts(lv))
                except ValidationError as e:
                    out.append(explain(e, path, node, prefix=("tricks", name, i),
                                       fields=list(params.model_fields)))
                    continue
                for loc, msg in level_schedule_problems(name, lv):
                    at = ("tricks", name, i, *loc)
                    out.append(f"{path}:{line_of(node, *at)}: {'.'.join(map(str, at))}: {msg}")
    return out


def _configs(spec: SweepSpec) -> list[tuple[dict[str, Any], dict[str, tuple]]]:
    """Base alone, or base with each axis value in turn (the others at their first value):
    every value is checked once, in a setting it will really run in. Each comes with where
    its axis fields were written."""
    base = {k: v for k, v in spec.base.items() if k != "seed"}
    axes = {a: v for a, v in spec.axes.items() if v}
    if not axes:
        return [(base, {})]
    first = {a: v[0] for a, v in axes.items()}
    out = []
    for a, values in axes.items():
        for i, value in enumerate(values):
            where = {b: ("axes", b, 0) for b in axes}
            where[a] = ("axes", a, i)
            out.append(({**base, **first, a: value}, where))
    return out


def _settings(spec: SweepSpec, path: Path, node) -> list[str]:
    out = []
    for raw, axis_at in _configs(spec):
        def place(field: str, axis_at=axis_at) -> tuple:
            return axis_at.get(field, ("base", field))

        try:
            cfg = RunConfig.model_validate(raw)
        except ValidationError as e:
            for err in e.errors():
                loc = err["loc"]
                at = (*place(str(loc[0])), *loc[1:]) if loc else ("base",)
                field = ".".join(map(str, at))
                msg = ("unknown field" + _close(str(loc[0]), list(RunConfig.model_fields))
                       if err["type"] == "extra_forbidden" else err["msg"])
                out.append(f"{path}:{line_of(node, *at)}: {field}: {msg}")
            continue
        try:
            # Conflicts of the base alone hold in every cell; with axes, cells decide.
            validate(cfg, path, node, ("base",), conflicts=not spec.axes, place=place)
        except ConfigError as e:
            out += str(e).splitlines()
    return out


def _close(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _metric(spec: SweepSpec, path: Path, node) -> list[str]:
    name = spec.metric.name
    if metric_goal(name) is not None:
        return []  # a known metric; whether these cells provide it is the expansion's check
    offered: list[str] = []
    for raw, _ in _configs(spec):
        cfg = RunConfig.model_validate(raw)
        offered += available_metrics(data_kind(cfg.dataset), cfg)
    known = list(dict.fromkeys(offered + metric_names()))
    return [f"{path}:{line_of(node, 'metric', 'name')}: metric.name: unknown metric {name!r}"
            f"{_close(name, known)} (these cells offer: {', '.join(dict.fromkeys(offered))})"]
