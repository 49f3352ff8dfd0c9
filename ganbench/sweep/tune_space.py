"""A tuned sweep's search space per cell, and configurations from sampled values. Pure.

Each cell searches the sweep's space less what the cell does not use: a trick's parameter
where the trick is off, and a learning rate or betas that a trick of the cell overrides
(TTUR's absolute form sets its own rates: the cell's optimiser settings are probed through
its tricks' `optimizers` hook, so no trick is named here). The default configuration of a
cell is its own value of every searched parameter; it is trial 0 of the cell's study when the space
holds it, so the untuned ranking comes out of the same budget.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ganbench.config import ParamRange, RunConfig, SweepSpec
from ganbench.specs.plan import Cell, PlannedRun, canonical, digest
from ganbench.specs.run import validate
from ganbench.tricks import TRICKS
from ganbench.tricks.base import OptimSpec, TrickStack

Domain = dict[str, Any]  # {"low", "high", "log", "int"} or {"choices": [...]}


def domain_of(dom: ParamRange | list[Any]) -> Domain:
    if isinstance(dom, ParamRange):
        return {"low": dom.low, "high": dom.high, "log": dom.log, "int": dom.is_int}
    return {"choices": list(dom)}


def _optim_fields_used(cfg: RunConfig) -> dict[str, bool]:
    """Whether the cell's optimisers depend on `lr` and on `betas` (a trick may override
    them): the tricks' optimizers hook is probed with two values of each."""
    stack = TrickStack.from_config(cfg)
    a = stack.optimizers(OptimSpec(1e-3, 1e-3, (0.5, 0.999), (0.5, 0.999)))
    b = stack.optimizers(OptimSpec(3e-3, 3e-3, (0.5, 0.999), (0.5, 0.999)))
    c = stack.optimizers(OptimSpec(1e-3, 1e-3, (0.1, 0.9), (0.1, 0.9)))
    return {"lr": a != b, "betas": a != c}


def _probe(spec: SweepSpec, cfg: RunConfig) -> RunConfig:
    """The cell's config with its searched trick parameters set (to a value of their range):
    whether lr is used can depend on them (TTUR's d_lr makes its rates absolute)."""
    values = {k: dom.low if isinstance(dom, ParamRange) else dom[0]
              for k, dom in spec.tune.space.items()
              if k.startswith("tricks.") and k.split(".")[1] in cfg.tricks}
    try:
        return configure(cfg, values, cfg.seed) if values else cfg
    except ValueError:  # the values refused together: the trial will say so; probe as is
        return cfg


def cell_space(spec: SweepSpec, cell: Cell) -> dict[str, Domain]:
    """The part of the sweep's space this cell uses, in the file's order."""
    if spec.tune is None:
        return {}
    used = _optim_fields_used(_probe(spec, cell.config))
    out = {}
    for key, dom in spec.tune.space.items():
        if key.startswith("tricks."):
            _, trick, _param = key.split(".")
            if trick not in cell.config.tricks:
                continue
        elif not used.get(key, True):
            continue
        out[key] = domain_of(dom)
    return out


def check_cells(spec: SweepSpec, cells: list[Cell]) -> None:
    """Every cell must search something: equal budgets over an empty space would train one
    configuration `budget` times. Raises PlanError at tune.space."""
    from ganbench.specs.designs import PlanError

    if spec.tune is None:
        return
    empty = [c.label for c in cells if not cell_space(spec, c)]
    if empty:
        raise PlanError(("tune", "space"), f"cell(s) {', '.join(empty)} use none of the "
                        "searched parameters (a trick may set the learning rate itself, as "
                        "TTUR's absolute form does: search tricks.ttur.d_lr and "
                        "tricks.ttur.g_lr there)")


def current_value(cfg: RunConfig, key: str) -> Any:
    """The cell's own value of a searched key (a trick parameter at its paper default)."""
    if key.startswith("tricks."):
        _, trick, param = key.split(".")
        params = TRICKS.get(trick).Params.model_validate(cfg.tricks.get(trick, {}))
        return getattr(params, param)
    value = getattr(cfg, key)
    return list(value) if isinstance(value, tuple) else value


def _inside(value: Any, dom: Domain) -> bool:
    if "choices" in dom:
        return any(_same(value, c) for c in dom["choices"])
    return (isinstance(value, (int, float)) and dom["low"] <= value <= dom["high"]
            and (not dom["int"] or float(value).is_integer()))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def default_params(cfg: RunConfig, space: dict[str, Domain]) -> tuple[dict | None, str]:
    """(the cell's default values of its searched keys, "") or (None, why not): a default
    outside the space cannot be a trial of the study."""
    out = {}
    for key, dom in space.items():
        value = current_value(cfg, key)
        if not _inside(value, dom):
            return None, f"the default {key} = {value!r} lies outside the searched space"
        out[key] = ([c for c in dom["choices"] if _same(value, c)][0]
                    if "choices" in dom else value)
    return out, ""


def encode(value: Any) -> Any:
    """A categorical value as Optuna stores it (lists are not allowed there: JSON text)."""
    return json.dumps(value) if isinstance(value, (list, dict, tuple)) else value


def decode(value: Any, dom: Domain) -> Any:
    if "choices" in dom:
        for c in dom["choices"]:
            if encode(c) == value:
                return c
        raise ValueError(f"{value!r} is not one of the choices {dom['choices']}")
    return int(value) if dom.get("int") else float(value)


def configure(cfg: RunConfig, params: dict[str, Any], seed: int) -> RunConfig:
    """The cell's config with the sampled values (decoded) and `seed`, validated."""
    raw = cfg.model_dump(mode="json")
    # A searched trick starts from the parameters its level set (defaults left out), so a
    # searched parameter may take another form of the trick (TTUR's d_lr: absolute rates).
    searched = {k.split(".")[1] for k in params if k.startswith("tricks.")}
    raw["tricks"] = {k: TRICKS.get(k).Params.model_validate(v).model_dump(
        mode="json", exclude_defaults=True) if k in searched else dict(v)
        for k, v in raw["tricks"].items()}
    for key, value in params.items():
        if key.startswith("tricks."):
            _, trick, param = key.split(".")
            raw["tricks"][trick][param] = value
        else:
            raw[key] = value
    raw["seed"] = seed
    return validate(RunConfig.model_validate(raw))


def final_runs(cell: Cell, params: dict[str, Any], seeds: list[int]) -> list[PlannedRun]:
    """Phase 2: the cell's best configuration over the final seeds (never the search seeds)."""
    runs = []
    for seed in seeds:
        cfg = configure(cell.config, params, seed)
        runs.append(PlannedRun(digest(canonical(cfg)), cell, seed, cfg))
    return runs


def run_key(cfg: RunConfig) -> str:
    return digest(canonical(cfg))


def check_unchanged(spec: SweepSpec, old: dict[str, Any] | None) -> str | None:
    """A resumed tuned sweep must search the space, sampler and seeds it started with."""
    if not old:
        return None
    t = spec.tune
    now = {"space": {k: domain_of(v) for k, v in t.space.items()}, "sampler": t.sampler,
           "seed": t.seed, "tune_seeds": t.tune_seeds}
    was = {k: old.get(k) for k in now}
    changed = [k for k in now if was[k] != now[k]]
    return (f"tune.{changed[0]} was {was[changed[0]]!r} when the sweep started, now "
            f"{now[changed[0]]!r}") if changed else None


__all__ = ["Domain", "cell_space", "check_cells", "check_unchanged", "configure",
           "current_value", "decode", "default_params", "domain_of", "encode", "final_runs",
           "run_key"]
