"""The rules of a sweep's grid (its axes and trick levels), each written once.

Two callers apply them: the file check (specs/sweep.py) reports every problem with its
file:line before anything is expanded, and the planner (specs/plan.py) refuses a spec built
in code on the first. A rule returns `(loc, message)` pairs; the caller places them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import RunConfig, SweepSpec, did_you_mean, error_message
from ganbench.schedules import starts
from ganbench.specs.designs import Level
from ganbench.specs.run import level_schedule_problems
from ganbench.tricks import TRICKS
from ganbench.tricks.levels import OFF, level_of
from ganbench.yamlfile import line_of

Loc = tuple[Any, ...]
Problem = tuple[Loc, str]

RESERVED_AXES = {"tricks": "tricks: sweeps tricks", "seed": "seeds: sets the seeds",
                 "name": "runs are named by their cell"}


def located(path: Path | str, node: yaml.Node | None, problem: Problem) -> str:
    """`file:line: field.path: message`."""
    loc, msg = problem
    return f"{path}:{line_of(node, *loc)}: {'.'.join(map(str, loc))}: {msg}"


def axis_problems(spec: SweepSpec) -> list[Problem]:
    """Each axis a run setting (not one the sweep sets itself), with at least one value."""
    out: list[Problem] = []
    settable = [f for f in RunConfig.model_fields if f not in RESERVED_AXES]
    for axis, values in spec.axes.items():
        if axis in RESERVED_AXES:
            out.append((("axes", axis), f"cannot be an axis ({RESERVED_AXES[axis]})"))
        elif axis not in RunConfig.model_fields:
            out.append((("axes", axis), "not a run setting" + did_you_mean(axis, settable)))
        elif not values:
            out.append((("axes", axis), "give at least one value"))
    return out


def trick_levels(spec: SweepSpec) -> tuple[dict[str, list[Level]], list[Problem]]:
    """Each swept trick's levels read (off, on or its parameters, checked against the trick's
    Params and what it may schedule), and every problem found on the way."""
    levels: dict[str, list[Level]] = {}
    out: list[Problem] = []
    for name, raws in spec.tricks.items():
        if name not in TRICKS:
            out.append((("tricks", name), TRICKS.unknown_message(name)))
            continue
        if not raws:
            out.append((("tricks", name), "give at least one level (off, on or parameters)"))
        params = TRICKS.get(name).Params
        fields = list(params.model_fields)
        levels[name] = []
        for i, raw in enumerate(raws):
            try:
                lv = level_of(raw)
            except ValueError as e:
                out.append((("tricks", name, i), str(e)))
                continue
            levels[name].append(lv)
            if lv is OFF:
                continue
            try:
                params.model_validate(starts(lv))
            except ValidationError as e:
                out += [(("tricks", name, i, *err["loc"]), error_message(err, fields))
                        for err in e.errors()]
                continue
            out += [(("tricks", name, i, *loc), msg)
                    for loc, msg in level_schedule_problems(name, lv)]
    return levels, out


def base_problems(spec: SweepSpec) -> list[Problem]:
    """What `base:` may not hold: the seed (seeds: sets it) or a trick also swept."""
    out: list[Problem] = []
    if "seed" in spec.base:
        out.append((("base", "seed"), f"seeds come from `seeds:` (e.g. seeds: "
                                      f"[{spec.base['seed']}]), not from base"))
    base_tricks = spec.base.get("tricks")
    if isinstance(base_tricks, (dict, list)):  # a list of names is shorthand
        out += [(("tricks", name), "also listed in base.tricks; list a trick either as "
                                   "always on (base.tricks) or as swept (tricks), not both")
                for name in base_tricks if isinstance(name, str) and name in spec.tricks]
    return out


def grid_problems(spec: SweepSpec) -> tuple[dict[str, list[Level]], list[Problem]]:
    """Every rule above, in the order a user meets them in the file."""
    levels, trick_out = trick_levels(spec)
    return levels, axis_problems(spec) + trick_out + base_problems(spec)


__all__ = ["RESERVED_AXES", "Problem", "axis_problems", "base_problems", "grid_problems",
           "located", "trick_levels"]
