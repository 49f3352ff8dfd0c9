"""The contract's checks that train nothing: documentation, parameters, the check hook,
pure input hooks, and declared conflicts against what the sweep planner drops."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import torch
import yaml
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.contract.contexts import CONFLICT_SETTINGS, Context, canon, first_setting
from ganbench.contract.result import Failed, Warn, check, require
from ganbench.specs.load import load_run_config
from ganbench.specs.plan import PlanError, plan
from ganbench.specs.run import check_run, validate
from ganbench.tricks import TRICKS, Finding, TrickStack
from ganbench.tricks.base import TimeConstant

UNKNOWN_KEY = "definitely_not_a_param"


def _setting(name: str) -> tuple[Context, str]:
    found = first_setting({name: {}})
    require(found, f"{name} validates in no contract context (ring8/mlp, images/dcgan28; "
                   "loss ns or hinge)")
    return found


@check("documented")
def documented(name: str) -> str | None:
    cls = TRICKS.get(name)
    require(cls.name == name, f"registered as {name!r} but its name is {cls.name!r}")
    require(cls.short and cls.short.strip() == cls.short,
            f"its short label {cls.short!r} is empty or padded")
    doc = (cls.__doc__ or "").strip()
    missing = [f"{cls.__name__} has no docstring" if not doc
               else None if re.search(r"\b(19|20)\d\d\b", doc)
               else f"{cls.__name__}'s docstring names no year",
               None if isinstance(cls.paper, str) and cls.paper.strip()
               else f"{cls.__name__}.paper is empty"]
    missing = [m for m in missing if m]
    if missing:
        why = "; ".join(missing) + " (cite the paper, with its year)"
        # A built-in trick must cite its paper; a plugin's (a new idea, maybe unpublished)
        # gets a warning: a citation changes no result.
        if cls.__module__.split(".")[0] == "ganbench":
            raise Failed(why)
        raise Warn(why)
    return None


@check("params have defaults")
def params_have_defaults(name: str) -> str | None:
    cls = TRICKS.get(name)
    missing = [k for k, f in cls.Params.model_fields.items()
               if f.default is PydanticUndefined and f.default_factory is None]
    require(not missing, f"Params field(s) without a default: {', '.join(missing)}")
    cls.Params()  # defaults that fail their own constraints raise here
    return f"{len(cls.Params.model_fields)} parameter(s)"


@check("params round-trip")
def params_round_trip(name: str) -> str | None:
    cls = TRICKS.get(name)
    params = cls.Params()
    again = cls.Params.model_validate(yaml.safe_load(yaml.safe_dump(params.model_dump())))
    require(again == params and again.model_dump() == params.model_dump(),
            f"dump -> YAML -> parse changes the params: {params!r} became {again!r}")
    ctx, loss = _setting(name)
    with tempfile.TemporaryDirectory() as tmp:  # and through a run file, as a user writes it
        path = Path(tmp) / "run.yaml"
        path.write_text(yaml.safe_dump({**ctx.fields(),
                                        "loss": loss, "tricks": {name: params.model_dump()}}))
        (trick,) = TrickStack.from_config(load_run_config(path)).tricks
    require(type(trick) is cls, f"a run file naming {name!r} builds {type(trick).__name__}")
    require(trick.params == params,
            f"a run file with the default params builds {trick.params!r}, not {params!r}")
    return None


@check("params are closed and frozen")
def params_closed(name: str) -> str | None:
    cls = TRICKS.get(name)
    try:
        cls.Params.model_validate({UNKNOWN_KEY: 1})
    except ValidationError:
        pass
    else:
        raise Failed("Params accept an unknown key (subclass TrickParams: extra='forbid')")
    try:
        validate(RunConfig(tricks={name: {UNKNOWN_KEY: 1}}))
    except ConfigError as e:
        require(f"tricks.{name}.{UNKNOWN_KEY}" in str(e),
                f"the error for an unknown key does not name tricks.{name}.{UNKNOWN_KEY}: {e}")
    else:
        raise Failed(f"a run file with tricks.{name}.{UNKNOWN_KEY} is accepted")
    params = cls.Params()
    fields = list(cls.Params.model_fields)
    if fields:
        try:
            setattr(params, fields[0], getattr(params, fields[0]))
        except ValidationError:
            pass
        else:
            raise Failed("Params can be changed after creation (subclass TrickParams: frozen)")
    return None


@check("check hook and time constant")
def check_hook(name: str) -> str | None:
    ctx, loss = _setting(name)
    cfg = RunConfig(**ctx.fields(), loss=loss)
    trick = TRICKS.get(name)()
    findings = trick.check(cfg)
    require(isinstance(findings, list) and all(
        isinstance(f, Finding) and f.kind in ("conflict", "caveat") for f in findings),
        f"check(cfg) must return a list of Finding, got {findings!r}")
    conflicts = [str(f) for f in findings if f.kind == "conflict"]
    require(not conflicts, f"check() of a default run on {ctx.label} conflicts: {conflicts}")
    tc = trick.time_constant(cfg.model_copy(update={"steps": 1000}))
    require(tc is None or (isinstance(tc, TimeConstant) and tc.steps > 0 and tc.what),
            f"time_constant() must be None or a TimeConstant of > 0 steps with a "
            f"description, got {tc!r}")
    return None


@check("hooks leave their inputs alone")
def hooks_pure(name: str) -> str | None:
    trick = TRICKS.get(name)()
    ones, zeros = torch.ones(8), torch.zeros(8)
    trick.d_targets(ones, zeros)
    require(torch.equal(ones, torch.ones(8)) and torch.equal(zeros, torch.zeros(8)),
            "d_targets changed the target tensors it was given (return new ones)")
    for shape in ((8, 2), (8, 1, 28, 28)):
        real, fake = torch.randn(shape), torch.randn(shape)
        real0, fake0 = real.clone(), fake.clone()
        trick.d_inputs(real, fake, 0)
        require(torch.equal(real, real0) and torch.equal(fake, fake0),
                f"d_inputs changed the {shape} batches it was given (return new ones)")
    return None


def declared_conflict(ctx: Context, loss: str, tricks: dict[str, dict]) -> bool:
    cfg = RunConfig(**ctx.fields(), loss=loss, tricks=tricks)
    return any(f.kind == "conflict" for f in check_run(cfg))


def planner_drops(ctx: Context, loss: str, names: list[str]) -> bool:
    """Whether a sweep with each of `names` on drops that cell (as `ganbench sweep` would)."""
    spec = SweepSpec.model_validate({
        "name": "contract", "base": {**ctx.fields(), "loss": loss},
        "tricks": {n: ["on"] for n in names}, "seeds": 1, "metric": {"name": "modes"}})
    try:
        return not plan(spec).cells
    except PlanError as e:
        # The one cell dropped -> "the grid is empty"; a kept image cell fails only the later
        # metric check ('modes' is for 2-D data), which is not a drop.
        if "grid is empty" in str(e):
            return True
        if "does not provide" in str(e):
            return False
        raise


def conflict_disagreement(ctx: Context, loss: str, names: list[str]) -> tuple[bool, str | None]:
    """(whether `names` declare a conflict, None when the planner agrees else why not)."""
    declared = declared_conflict(ctx, loss, {n: {} for n in names})
    dropped = planner_drops(ctx, loss, names)
    if declared == dropped:
        return declared, None
    return declared, (f"{'+'.join(names)} on {ctx.label}/{loss}: declared "
                      f"{'a' if declared else 'no'} conflict, but the planner "
                      f"{'drops' if dropped else 'keeps'} the cell")


def _conflicts_title(name: str, partner: str | None = None) -> str:
    if partner is None:
        return "conflicts match the planner"
    return "conflicts match the planner " + ("alone" if partner == name else f"beside {partner}")


@check(_conflicts_title)
def conflicts_match_planner(name: str, partner: str | None = None) -> str | None:
    """Alone and beside every canon trick; with `partner`, beside it only (alone when
    `partner` is `name`). The declared conflicts are the tricks' check(); the planner's drops
    are specs/plan.py's, in each of CONFLICT_SETTINGS."""
    others = [partner] if partner else [name, *[n for n in canon() if n != name]]
    bad, declared = [], 0
    for ctx, loss in CONFLICT_SETTINGS:
        for other in others:
            names = [name] if other == name else [name, other]
            conflict, why = conflict_disagreement(ctx, loss, names)
            bad += [why] if why else []
            declared += conflict and other != name
    require(not bad, "; ".join(bad))
    return f"{declared} conflicting pair(s) dropped" if partner is None else None
