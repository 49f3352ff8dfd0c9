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
