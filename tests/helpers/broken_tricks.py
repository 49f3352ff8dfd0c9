"""Tricks that break one part of the contract each, for `ganbench tricks verify`'s tests, and
one user trick that keeps it. Registered only inside `TRICKS.scoped()` (the tests' own
`broken_tricks` fixtures), so the contract tests never see them."""

from __future__ import annotations

from pydantic import Field

from ganbench.tricks.base import Trick, TrickParams, register


class Counted(Trick):
    """Test only (2024): a small D penalty that grows with a step counter, kept as state."""

    paper = "none (test helper)"

    class Params(TrickParams):
        weight: float = Field(1e-2, gt=0)

    def __init__(self, params=None, cfg=None) -> None:
        super().__init__(params, cfg)
        self.count = 0

    def d_terms(self, ctx):
        return {"counted": self.params.weight * (1 + self.count) * ctx.d_real.square().mean()}

    def after_step(self, ctx) -> None:
        self.count += 1

    def state_dict(self) -> dict:
        return {"count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])


class Forgetful(Counted):
    """Test only (2024): saves its counter but ignores it when loaded (does not round-trip)."""

    def load_state_dict(self, state: dict) -> None:
        pass


class Hidden(Counted):
    """Test only (2024): keeps a counter but leaves it out of its state (resume drifts)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class NoDefault(Trick):
    """Test only (2024): a parameter without a default."""

    paper = "none (test helper)"

    class Params(TrickParams):
        weight: float


class SharedCounter(Counted):
    """Test only (2024): says it is vectorisable, but its counter is shared by every instance
    (a class attribute), so stacked seeds count each other's steps."""

    vectorisable = True
    shared = 0

    def __init__(self, params=None, cfg=None) -> None:
        super().__init__(params, cfg)
        type(self).shared = 0

    def d_terms(self, ctx):
        return {"counted": self.params.weight * (1 + type(self).shared)
                * ctx.d_real.square().mean()}

    def after_step(self, ctx) -> None:
        type(self).shared += 1

    def state_dict(self) -> dict:
        return {"count": type(self).shared}

    def load_state_dict(self, state: dict) -> None:
        type(self).shared = int(state["count"])


class Undocumented(Trick):
    paper = ""


def register_broken_tricks() -> None:
    """Register them (inside a `TRICKS.scoped()` block: nothing undoes it otherwise)."""
    register("test_counted")(Counted)
    register("test_forgetful")(Forgetful)
    register("test_hidden_state")(Hidden)
    register("test_no_default")(NoDefault)
    register("test_shared_counter")(SharedCounter)
    register("test_undocumented")(Undocumented)
