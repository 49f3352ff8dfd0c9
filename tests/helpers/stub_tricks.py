"""Test-only tricks: NaN (or inf) loss terms at chosen steps and a trick that does not claim
to be vectorisable. They are not registered at import: a test gets them through conftest's
`scoped_test_tricks` fixture (`TRICKS.scoped()`), so they vanish when it ends and the shipped
registry, which the contract tests parametrise over, never holds them. (Their names start
with ``test_`` because tests name them in assertions; nothing filters by the prefix.)"""

from __future__ import annotations

import math
from typing import Literal

import torch

from ganbench.tricks.base import Trick, TrickParams, register


class NanAt(Trick):
    """Test only (2024): a NaN loss term at one chosen step."""

    paper = "none (test helper)"

    class Params(TrickParams):
        at: int = 7
        where: Literal["d", "g"] = "d"
        # named, not a float: a parameter is finite (limits.py); the loss term is what breaks
        value: Literal["nan", "inf", "-inf"] = "nan"

    def _term(self, ctx):
        bad = torch.tensor(float(self.params.value) if ctx.step == self.params.at else 0.0)
        return {"boom": bad}

    def d_terms(self, ctx):
        return self._term(ctx) if self.params.where == "d" else {}

    def g_terms(self, ctx):
        return self._term(ctx) if self.params.where == "g" else {}


class NanForSeed(Trick):
    """Test only (2024): a NaN D loss term for chosen seeds, seed s at step at + stagger*s."""

    paper = "none (test helper)"
    vectorisable = True

    class Params(TrickParams):
        seeds: list[int] | None = None  # None: every seed
        at: int = 5
        stagger: int = 0

    def d_terms(self, ctx):
        p, seed = self.params, self.cfg.seed
        hit = (p.seeds is None or seed in p.seeds) and ctx.step == p.at + p.stagger * seed
        return {"boom": torch.tensor(math.nan if hit else 0.0)}


class Unvectorised(Trick):
    """Test only (2024): a trick that does not claim to be vectorisable."""

    paper = "none (test helper)"


def register_stub_tricks() -> None:
    """Register the stub tricks (inside a `TRICKS.scoped()` block: nothing undoes it otherwise)."""
    register("test_nan_at")(NanAt)
    register("test_nan_for_seed")(NanForSeed)
    register("test_unvectorised")(Unvectorised)
