"""Schedules: a run's learning rate, an Adam beta or a trick's parameter that moves over
training.

Written where the parameter is, `lr: {start: 2e-4, end: 0, shape: linear}`,
`betas: [0.0, {start: 0.9, end: 0.99}]` or `tricks: {r1: {gamma: {start: 10, end: 1}}}`, a
schedule is stored as the parameter's plain value (its start) plus an entry of the run's
`schedules` ({"lr": {end: 0}}, {"beta2": ...}, {"r1.gamma": ...}). So everything that reads
the parameter when a run is built reads its start, a run without schedules keeps its key,
and a schedule is part of the key of a run with one.

A value is a pure function of the step (train/schedules.py applies it before each step), so a
resumed run applies exactly what an uninterrupted run would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ganbench import limits as L

EXAMPLE = "lr: {start: 2e-4, end: 0, shape: linear}"
BETAS_EXAMPLE = "betas: [0.0, {start: 0.9, end: 0.99}]"

# The run settings a schedule may move (its key in `schedules`) and where each is written:
# lr itself; Adam's beta1 and beta2 as elements of the `betas` pair (R3GAN, Huang et al.
# 2024, ramps beta2). A trick's parameter is "<trick>.<param>", written under `tricks`.
RUN_PARAMS: dict[str, tuple[str | int, ...]] = {
    "lr": ("lr",), "beta1": ("betas", 0), "beta2": ("betas", 1)}


class Schedule(BaseModel):
    """How a parameter moves from its start (the parameter's own value) to `end`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    end: float = Field(..., description="the value reached after `over` steps (and kept)")
    shape: Literal["linear", "cosine"] = Field(
        "linear", description="linear, or cosine (half a cosine: flat at both ends)")
    over: int | None = Field(None, gt=0, le=L.MAX_STEPS,
                             description="steps to reach `end`; None = the run's steps")

    _sane = field_validator("*")(classmethod(lambda cls, v: L.sane(v)))

    @field_validator("end", "over", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"expected a number, got {str(v).lower()}")
        return v

    def value(self, start: float, step: int, steps: int) -> float:
        """The value used in step `step` (0-based) of a run of `steps` steps; `end` itself
        is reached only after `over` steps. Linear to 0 over the run's steps is Mimicry's
        decay: iteration t trains with lr·(1 − t/num_steps) (kwotsin/mimicry,
        torch_mimicry/training/scheduler.py `linear_decay`, which trainer.py calls after each
        iteration with the incremented global step)."""
        f = min(step / (self.over or steps), 1.0)
        if self.shape == "cosine":
            f = 0.5 * (1.0 - math.cos(math.pi * f))
        return start + (self.end - start) * f


def is_inline(v: Any) -> bool:
    """Whether a parameter's value is written as a schedule (a mapping with `start`)."""
    return isinstance(v, dict) and "start" in v


def split_inline(v: dict[str, Any]) -> dict[str, Any]:
    """A run config's raw mapping with every inline schedule (lr's, the betas', the tricks')
    moved into `schedules` and its start left as the parameter's value. Raises ValueError
    for a schedule given twice."""
    found = {"lr": v["lr"]} if is_inline(v.get("lr")) else {}
    betas = v.get("betas")
    if isinstance(betas, (list, tuple)) and len(betas) == 2:
        found.update({f"beta{i + 1}": b for i, b in enumerate(betas) if is_inline(b)})
    tricks = v.get("tricks")
    for name, params in tricks.items() if isinstance(tricks, dict) else ():
        if isinstance(params, dict):
            found.update({f"{name}.{k}": x for k, x in params.items() if is_inline(x)})
    if not found:
        return v
    given = v.get("schedules")
    given = dict(given) if isinstance(given, dict) else {}
    twice = sorted(set(found) & set(given))
    if twice:
        raise ValueError(f"schedules: {', '.join(twice)} is scheduled both where it is written "
                         "and under schedules:; keep one")
    out = {**v, "schedules": {**given, **{k: {f: x for f, x in spec.items() if f != "start"}
                                          for k, spec in found.items()}}}
    if "lr" in found:
        out["lr"] = found["lr"]["start"]
    if "beta1" in found or "beta2" in found:
        out["betas"] = [b["start"] if is_inline(b) else b for b in betas]
    if isinstance(tricks, dict):
        out["tricks"] = {name: starts(p) if isinstance(p, dict) else p
                         for name, p in tricks.items()}
    return out


def written_at(key: str) -> tuple[str | int, ...]:
    """Where a schedule's parameter is written in a run config: ("lr",), ("betas", 1) for
    "beta2", or ("tricks", trick, param) for "trick.param"."""
    if key in RUN_PARAMS:
        return RUN_PARAMS[key]
    if "." in key:
        trick, param = key.split(".", 1)
        return ("tricks", trick, param)
    return (key,)


def describe(start: Any, schedule: Schedule | dict[str, Any]) -> str:
    """A schedule in a label: "0.002→0", "10→1 cosine", "10→1 over 500" (also of one not
    yet checked: labels are made before cells are)."""
    s = schedule.model_dump() if isinstance(schedule, Schedule) else schedule
    out = f"{_g(start)}→{_g(s.get('end'))}"
    if s.get("shape", "linear") != "linear":
        out += f" {s['shape']}"
    return out + (f" over {s['over']}" if s.get("over") else "")


def describe_setting(field: str, value: Any, schedules: Mapping[str, Any],
                     show: Callable[[Any], str] | None = None) -> str | None:
    """A run setting with its schedules, as labels and records show it: "0.002→0" for lr,
    "(0, 0.9→0.99)" for betas with beta2 scheduled (`show` writes the elements that are
    not; default as in a schedule); None when no part of it is scheduled."""
    at = {loc[1:]: key for key, loc in RUN_PARAMS.items() if loc[0] == field and key in schedules}
    if not at:
        return None
    if () in at:
        return describe(value, schedules[at[()]])
    show = show or _g
    return "(" + ", ".join(describe(x, schedules[at[(i,)]]) if (i,) in at else show(x)
                           for i, x in enumerate(value)) + ")"


def _g(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def starts(params: dict[str, Any]) -> dict[str, Any]:
    """A trick's parameters with each inline schedule replaced by its start: what its Params
    are built with."""
    return {k: v["start"] if is_inline(v) else v for k, v in params.items()}
