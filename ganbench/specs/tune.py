"""A sweep's `tune:` block checked before anything runs: each mistake with its file:line.

The space names run settings (`lr`, `betas`) and trick parameters (`tricks.<trick>.<param>`,
of a trick in the sweep); ranges must be ordered, log ranges positive, and the grid sampler
takes value lists only. Every endpoint and value is validated as the run would validate it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import ParamRange, RunConfig, SweepSpec, TuneSpec, did_you_mean, line_of
from ganbench.tricks import TRICKS

# Search seeds are taken from here on, so that the final phase's seeds are always fresh.
SEARCH_SEED_BASE = 1_000_000
# Settings that cannot be searched, and why.
NOT_TUNABLE = {
    "seed": "seeds come from `seeds:` and `tune_seeds:`",
    "name": "runs are named by their cell", "tricks": "name a parameter: tricks.<trick>.<param>",
    "device": "it does not change the run", "data_root": "it does not change the run",
    "steps": "every trial gets the same training budget", "eval_every": "pruning reads it",
    "log_every": "it does not change the run",
}


def search_seeds(tune: TuneSpec) -> list[int]:
    return [SEARCH_SEED_BASE + i for i in range(tune.tune_seeds)]


def sweep_tricks(spec: SweepSpec) -> set[str]:
    """Tricks on in some cell: swept ones with a level that is not off, and base.tricks."""
    on = {n for n, levels in spec.tricks.items()
          if any(lv not in (None, False, "off") for lv in levels)}
    base = spec.base.get("tricks") or {}
    if isinstance(base, list):
        on |= {str(n) for n in base}
    elif isinstance(base, dict):
        on |= {n for n, p in base.items() if p is not False}
    return on


def check_tune(spec: SweepSpec, path: Path, node: yaml.Node | None) -> list[str]:
    """Every problem of spec.tune as `file:line: field: message` (empty when it is fine)."""
    tune = spec.tune
    if tune is None:
        return []
    out = []
    for key, dom in tune.space.items():
        at = ("tune", "space", key)
        where = f"{path}:{line_of(node, *at)}: tune.space.{key}"
        problem = _name(spec, key) or _domain(spec, tune, key, dom)
        if problem:
            sub, msg = problem if isinstance(problem, tuple) else ((), problem)
            if sub:
                where = (f"{path}:{line_of(node, *at, *sub)}: tune.space.{key}."
                         + ".".join(map(str, sub)))
            out.append(f"{where}: {msg}")
    clash = sorted(set(search_seeds(tune)) & set(spec.seed_list))
    if clash:
        out.append(f"{path}:{line_of(node, 'seeds')}: seeds: {clash[0]} is a search seed "
                   f"(search seeds start at {SEARCH_SEED_BASE}); the final phase needs fresh "
                   "seeds: use smaller ones")
    return out


def _name(spec: SweepSpec, key: str) -> str | None:
    if key.startswith("tricks."):
        parts = key.split(".")
        if len(parts) != 3:
            return "a trick parameter is written tricks.<trick>.<param>"
        _, trick, param = parts
        if trick not in TRICKS:
            return TRICKS.unknown_message(trick)
        if trick not in sweep_tricks(spec):
            return (f"trick {trick!r} is not in this sweep (its tricks: "
                    f"{', '.join(sorted(sweep_tricks(spec))) or 'none'}); add it to `tricks:` "
                    "or drop this parameter")
        fields = list(TRICKS.get(trick).Params.model_fields)
        if param not in fields:
            return (f"{trick} has no parameter {param!r} (its parameters: "
                    f"{', '.join(fields) or 'none'}){did_you_mean(param, fields)}")
        # One level may set it (the cell's default, its trial 0); levels that differ in it
        # would become cells searching the same thing.
        set_to = {repr(lv[param]) for lv in spec.tricks.get(trick, [])
                  if isinstance(lv, dict) and param in lv}
        if len(set_to) > 1:
            return (f"{trick}'s levels differ in {param}; search it or sweep it as levels, "
                    "not both")
        return None
    if key in NOT_TUNABLE:
        return f"cannot be searched ({NOT_TUNABLE[key]})"
    if key not in RunConfig.model_fields:
        fields = [f for f in RunConfig.model_fields if f not in NOT_TUNABLE]
        return f"not a run setting{did_you_mean(key, fields)}"
    if key in spec.axes:
        return "is also an axis; search it or sweep it as an axis, not both"
    return None


def _domain(spec: SweepSpec, tune: TuneSpec, key: str, dom: ParamRange | list[Any]):
    if isinstance(dom, ParamRange):
        if tune.sampler == "grid":
            return ("the grid sampler needs a list of values, not a continuous range "
                    f"(e.g. [{dom.low}, {dom.high}]); or use sampler: tpe or random")
        if dom.low >= dom.high:
            return ("low",), f"low ({dom.low}) must be below high ({dom.high})"
        if dom.log and dom.low <= 0:
            return ("low",), (f"a log range must lie above 0, got low {dom.low}; use a "
                              "positive low or log: false")
        values = [("low", dom.low), ("high", dom.high)]
    else:
        if not dom:
            return "give at least one value"
        values = list(enumerate(dom))
    for sub, value in values:
        msg = _invalid(spec, key, value)
        if msg:
            return (sub,), msg
    return None


def _invalid(spec: SweepSpec, key: str, value: Any) -> str | None:
    """Why a run could not take `value` for `key` (None when it can)."""
    try:
        if key.startswith("tricks."):
            _, trick, param = key.split(".")
            TRICKS.get(trick).Params.model_validate({param: value})
        else:
            base = {k: v for k, v in spec.base.items() if k != "seed"}
            RunConfig.model_validate({**base, key: value})
    except ValidationError as e:
        err = e.errors()[0]
        return f"{value!r} is not a valid value: {err['msg']}"
    return None


__all__ = ["NOT_TUNABLE", "SEARCH_SEED_BASE", "check_tune", "search_seeds", "sweep_tricks"]
