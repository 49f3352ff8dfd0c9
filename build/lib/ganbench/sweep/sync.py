"""What `Queue.sync` must do to make the queue hold every planned run without a result.

Pure: from the study's trials, the planned runs and (optionally) the MLflow record, the
ordered list of trials to add, and the counts the controller reports. The Queue applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from ganbench.sweep.job import ATTEMPTS
from ganbench.sweep.trials import Recorded, has_result, is_open, latest


@dataclass(frozen=True)
class SyncReport:
    done: int  # run keys with a result already
    requeued: int  # interrupted (killed, lost) runs put back in the queue
    added: int  # newly enqueued runs
    waiting: int  # queued now in total
    errors: tuple[str, ...] = ()  # why each run re-queued after an error failed
    missing: int = 0  # closed in the queue but without a result in the MLflow record: re-run
    closed: int = 0  # a result in the record but open in the queue: closed from the record


@dataclass(frozen=True)
class Add:
    """One trial to add: queued (`result` None) or closed with its recorded result."""

    attrs: dict[str, Any]
    result: Recorded | None = None


def failed_attempts(trials: list[FrozenTrial]) -> dict[str, list[str]]:
    """Run key -> the MLflow runs of its failed attempts, oldest first (their checkpoints)."""
    out: dict[str, list[str]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if t.state == TrialState.FAIL and not has_result(t) and t.user_attrs.get(
                "mlflow_run_id"):
            out.setdefault(t.user_attrs.get("run_key"), []).append(t.user_attrs["mlflow_run_id"])
    return out


def plan_sync(trials: list[FrozenTrial], runs: list[dict[str, Any]],
              recorded: dict[str, Recorded] | None) -> tuple[list[Add], SyncReport]:
    """The trials to add, in order, and the report (`closed` counts only those added here)."""
    last = latest(trials)
    attempts = failed_attempts(trials)
    adds: list[Add] = []
    done = requeued = waiting = missing = closed = 0
    errors: list[str] = []
    for attrs in runs:
        key = attrs["run_key"]
        t = last.get(key)
        if recorded is not None and key in recorded:
            if t is None or not (has_result(t) or is_open(t)):
                adds.append(Add(attrs, recorded[key]))
                closed += 1
            done += 1
            continue
        if t is not None and has_result(t):
            if recorded is None:
                done += 1
                continue
            missing += 1  # its MLflow run is gone: the result no longer exists
        elif is_open(t):
            waiting += t.state == TrialState.WAITING  # RUNNING: a live worker elsewhere
            continue
        elif t is not None:  # failed attempts: resume from their checkpoints
            attrs = {**attrs, ATTEMPTS: attempts.get(key, [])}
            if t.user_attrs.get("status") == "error":
                errors.append(str(t.user_attrs.get("failure_reason", "error")))
            else:
                requeued += 1
        adds.append(Add(attrs))
        waiting += 1
    queued = sum(1 for a in adds if a.result is None)
    return adds, SyncReport(done, requeued, queued, waiting, tuple(errors), missing, closed)


__all__ = ["Add", "SyncReport", "failed_attempts", "plan_sync"]
