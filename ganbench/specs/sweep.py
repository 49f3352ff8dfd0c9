"""A sweep file checked before its grid is expanded: every mistake with its file:line.

The rules of the grid itself (axes, trick levels, base) are specs/rules.py's, which the planner
applies too; here every problem is reported at once with its place in the file, each base
setting and axis value is checked once in a setting it will run in, the metric is known, and
the grid's size is known before it exists.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec, as_given, did_you_mean, line_of
from ganbench.data import data_kind
from ganbench.limits import work_message
from ganbench.metrics import available_metrics, metric_goal, metric_names
from ganbench.specs.designs import DESIGNS
from ganbench.specs.rules import grid_problems, located
from ganbench.specs.run import validate
from ganbench.specs.tune import check_tune  # tuning
from ganbench.yamlfile import cap_lines

DEFAULT_MAX_RUNS = 10_000


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
    problems = [located(path, node, p) for p in grid_problems(spec)[1]]
    if not problems:
        problems = _settings(spec, path, node)
    if not problems:
        problems = _metric(spec, path, node)
    # ---- tuning: the tune: block's names, ranges and sampler (specs/tune.py)
    if not problems:
        problems = check_tune(spec, path, node)
    # ---- end of tuning
    if problems:
        raise ConfigError(cap_lines(list(dict.fromkeys(problems))))


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
                loc = as_given(err["loc"], raw)  # a schedule on an axis: where it is written
                at = (*place(str(loc[0])), *loc[1:]) if loc else ("base",)
                field = ".".join(map(str, at))
                close = (did_you_mean(str(loc[0]), list(RunConfig.model_fields))
                         if len(loc) == 1 else "")  # a setting's name, not a key inside one
                msg = ("unknown field" + close if err["type"] == "extra_forbidden"
                       else err["msg"].removeprefix("Value error, "))
                out.append(f"{path}:{line_of(node, *at)}: {field}: {msg}")
            continue
        try:
            # Conflicts of the base alone hold in every cell; with axes, cells decide.
            validate(cfg, path, node, ("base",), conflicts=not spec.axes, place=place)
        except ConfigError as e:
            out += str(e).splitlines()
    return out


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
            f"{did_you_mean(name, known)} (these cells offer: "
            f"{', '.join(dict.fromkeys(offered))})"]
