"""Resume contract for every registered trick: crash after a checkpoint, resume, and the run
is bit-identical to an uninterrupted one (results, nets, logged history); and the trick's own
state comes back from a checkpoint as it went in.

A trick that keeps state across steps outside G's and D's state_dict must carry it through
`Trick.state_dict` / `load_state_dict`, or this fails for it. The checks are
`ganbench tricks verify`'s (ganbench/contract/training.py). Parametrised from
`TRICKS.names()` at collection time (test-only tricks are registered only inside the tests
that ask for them, so they are not among these).
"""

from __future__ import annotations

import pytest

from ganbench.contract import TRAINED
from ganbench.tricks import TRICKS


def real_tricks() -> list[str]:
    return TRICKS.names()


def passes(result) -> None:
    assert result.status == "pass", f"{result.check}: {result.detail}"


@pytest.mark.parametrize("name", real_tricks())
def test_resume_after_a_crash_is_identical(name):
    passes(TRAINED["resume_exact"](name))


@pytest.mark.parametrize("name", real_tricks())
def test_trick_state_round_trips_through_a_checkpoint(name):
    passes(TRAINED["state_round_trip"](name))


@pytest.mark.parametrize("name", real_tricks())
def test_scheduled_parameters_act_from_the_step_they_are_set(name):
    # A trick without a float parameter that can move (or whose parameters show no effect in
    # the check's steps) is skipped; none may fail.
    assert TRAINED["schedulable_params"](name).status in ("pass", "skip")


def test_a_parameter_read_only_at_build_fails_the_schedule_check():
    from ganbench.tricks.base import Trick, TrickParams, register_trick

    class Params(TrickParams):
        weight: float = 1.0

    class CachesWeight(Trick):
        """Test-only: reads its weight once, at build, and does not say so."""

        def __init__(self, params=None, cfg=None):
            super().__init__(params, cfg)
            self.w = self.params.weight

        def d_terms(self, ctx):
            return {"cached": self.w * ctx.d_real.square().mean()}

    CachesWeight.Params = Params
    with TRICKS.scoped():
        register_trick("test_caches_weight")(CachesWeight)
        r = TRAINED["schedulable_params"]("test_caches_weight")
        assert r.status == "fail" and "fixed_params" in r.detail
        CachesWeight.fixed_params = frozenset({"weight"})  # declared: nothing to check
        assert TRAINED["schedulable_params"]("test_caches_weight").status == "skip"
