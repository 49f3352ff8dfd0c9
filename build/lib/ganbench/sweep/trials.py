"""Reading a study's trials: a run's outcome, whether it holds a result, each key's newest.

A finished trial is COMPLETE (value = ranking metric), or FAIL with a `status` attribute:
diverged (a result, never re-run), killed / interrupted / error / lost (re-run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

RESULT_STATUSES = ("finished", "diverged")  # outcomes that count as done


@dataclass(frozen=True)
class Recorded:
    """A run key's result in the MLflow record (the source of truth for "has a result")."""

    status: str  # finished | diverged
    run_id: str
    value: float | None = None


def status_of(t: FrozenTrial) -> str | None:
    """A finished trial's outcome. Our own failure paths tag a status; a FAIL without one was
    failed by Optuna's stale-heartbeat check: its worker was lost."""
    status = t.user_attrs.get("status")
    if status is None and t.state == TrialState.FAIL:
        return "lost"
    return status


def lost_reason(attrs: dict[str, Any], grace: int | None = None) -> str:
    after = f" for {grace} s" if grace else ""
    return (f"lost: worker {attrs.get('worker', '?')} sent no heartbeat{after} (killed, "
            "preempted or disconnected); re-queued")


def has_result(t: FrozenTrial) -> bool:
    """Closed with a result. The status attribute alone does not count: it is written just
    before the state, so a crash between the two leaves an open trial with that attribute."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and
                                              t.user_attrs.get("status") in RESULT_STATUSES)


def is_open(t: FrozenTrial | None) -> bool:
    return t is not None and t.state in (TrialState.WAITING, TrialState.RUNNING)


def latest(trials: list[FrozenTrial]) -> dict[str, FrozenTrial]:
    """Each run key's newest trial, which decides its state (an older result trial of a key
    that was re-queued because its MLflow run went missing no longer counts)."""
    out: dict[str, FrozenTrial] = {}
    for t in sorted(trials, key=lambda t: t.number):
        out[t.user_attrs.get("run_key")] = t
    return out


__all__ = ["RESULT_STATUSES", "Recorded", "has_result", "is_open", "latest", "lost_reason",
           "status_of"]
