"""Sweep designs: which combinations of trick levels a sweep's cells are (one class each).

A design receives every swept trick's levels in file order (`OFF`, or a parameter mapping)
and returns the level combinations, in the order the cells are planned. A new design is a new
`Design` subclass registered in `DESIGNS`, here or in a plugin: it carries what the rest of
the code asks of it (whether the report may fit a factorial model to its cells, how many
cells it makes), so no list of design names exists anywhere else.

Pure (no store, no queue): specs/sweep.py sizes a grid and the report asks `factorial` from
here, below sweep/'s other modules (the layer table in docs/development.md).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

from ganbench.config import SweepSpec
from ganbench.registry import Registry
from ganbench.specs.fractional import fractional_rows
from ganbench.tricks.levels import OFF

Level = dict[str, Any] | None  # OFF or a trick's parameters
Combo = dict[str, Level]  # trick name -> its level in one cell


class PlanError(ValueError):
    """A spec that cannot make a grid; `loc` is the field path, for file:line messages."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        self.loc, self.message = loc, message
        super().__init__(f"{'.'.join(map(str, loc))}: {message}" if loc else message)


class Design:
    """The contract: `check` refuses levels the design cannot use, `combinations` expands,
    `cells` counts without expanding."""

    # Two-level designs need exactly two levels per trick: off and one setting.
    two_level: ClassVar[bool] = False
    # Whether the cells cross the tricks (every trick varied against the others' levels), so
    # the report may fit main effects and interactions to them; else only ablation tables.
    factorial: ClassVar[bool] = False

    def __init__(self, spec: SweepSpec) -> None:
        self.spec = spec

    def check(self, levels: dict[str, list[Level]]) -> None:
        if not self.two_level:
            return
        for n, lvs in levels.items():
            if len(lvs) != 2 or sum(lv is OFF for lv in lvs) != 1:
                raise PlanError(("tricks", n),
                                f"design {self.spec.design!r} needs two levels (off and one "
                                f"setting), got {len(lvs)}; use design: full or one-at-a-time")

    def combinations(self, levels: dict[str, list[Level]]) -> list[Combo]:
        raise NotImplementedError

    def cells(self, n_levels: list[int]) -> int:
        """How many cells the tricks make, from each one's number of levels (file order),
        before conflicting cells are dropped. The size check calls it before any grid is
        built, so a design that can grow large should count by arithmetic; this default
        expands placeholder levels instead."""
        levels = {f"t{i}": [OFF] + [{"level": j} for j in range(1, n)] if n else []
                  for i, n in enumerate(n_levels)}
        return len(self.combinations(levels))

    @staticmethod
    def on(levels: dict[str, list[Level]]) -> Combo:
        """Each trick's first setting that is not off (its "on" level)."""
        return {n: next((lv for lv in lvs if lv is not OFF), OFF) for n, lvs in levels.items()}


DESIGNS: Registry[type[Design]] = Registry("design")


def register_design(obj=None, /):
    """Register a Design subclass under a name: `@register_design("name")`,
    `@register_design` (the class's own `name`) or `register_design(cls)`."""
    return DESIGNS.register(obj)


@DESIGNS.register("full")
class Full(Design):
    """Every combination of every trick's levels."""

    factorial = True

    def cells(self, n_levels):
        return math.prod(n_levels)

    def combinations(self, levels):
        names = list(levels)
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(levels[n] for n in names))]


@DESIGNS.register("one-at-a-time")
class OneAtATime(Design):
    """The baseline, then each trick's settings alone."""

    def cells(self, n_levels):
        return 1 + sum(n_levels)  # an upper bound: a trick's off level adds no cell

    def combinations(self, levels):
        off = dict.fromkeys(levels, OFF)
        out = [dict(off)]
        for n, lvs in levels.items():
            out += [{**off, n: lv} for lv in lvs if lv is not OFF]
        return out


@DESIGNS.register("leave-one-out")
class LeaveOneOut(Design):
    """Everything on, then everything but one trick."""

    two_level = True

    def cells(self, n_levels):
        return 1 + len(n_levels)

    def combinations(self, levels):
        everything = self.on(levels)
        return [everything] + [{**everything, n: OFF} for n in levels]


@DESIGNS.register("fractional")
class Fractional(Design):
    """A regular two-level fraction of the given resolution (specs/fractional.py)."""

    two_level = True
    factorial = True

    def cells(self, n_levels):
        return 2 ** len(n_levels)  # at most the full two-level design (no generator search)

    def combinations(self, levels):
        on = self.on(levels)
        rows = fractional_rows(len(levels), self.spec.resolution)
        return [{n: (on[n] if bit else OFF) for n, bit in zip(levels, row, strict=True)}
                for row in rows]


def design_for(spec: SweepSpec) -> Design:
    return DESIGNS.get(spec.design)(spec)


__all__ = ["DESIGNS", "Design", "PlanError", "design_for", "register_design"]
