"""The Optuna study is the work queue (the only module that imports optuna).

Each planned run is an enqueued trial (WAITING) carrying its run key, cell and full config in
user attributes; a worker claims one by moving it WAITING -> RUNNING, which the storage makes
atomic across processes. Outcomes: COMPLETE (value = ranking metric), or FAIL with a `status`
attribute: diverged (a result, never re-run), killed / interrupted / error (re-run on resume).
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

optuna.logging.set_verbosity(optuna.logging.WARNING)

RESULT_STATUSES = ("finished", "diverged")  # outcomes that count as done


def open_storage(url: str):
    """A path (or journal:PATH) is a local journal file; anything else an Optuna storage URL."""
    if url.startswith("journal:"):
        url = url[len("journal:"):]
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    return optuna.storages.RDBStorage(url)


@dataclass(frozen=True)
class Claimed:
    trial_id: int
    number: int
    attrs: dict[str, Any]


@dataclass(frozen=True)
class SyncReport:
    done: int  # run keys with a result already
    requeued: int  # interrupted runs put back in the queue
    added: int  # newly enqueued runs
    waiting: int  # queued now in total


class Queue:
    def __init__(self, storage_url: str, study_name: str, direction: str = "maximize") -> None:
        self.storage = open_storage(storage_url)
        self.study = optuna.create_study(study_name=study_name, storage=self.storage,
                                         direction=direction, load_if_exists=True)

    # ---- controller side -----------------------------------------------------------
    def trials(self, states=None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def sync(self, runs: list[dict[str, Any]], reclaim_running: bool = True) -> SyncReport:
        """Make the queue hold every planned run that has no result yet.

        runs: user-attribute dicts, each with a unique "run_key". With reclaim_running, trials
        left RUNNING belong to dead workers (one controller per local study) and are failed
        as 'interrupted', then enqueued again.
        """
        done, pending, failed = set(), set(), set()
        for t in self.trials():
            key = t.user_attrs.get("run_key")
            status = t.user_attrs.get("status")
            if t.state == TrialState.COMPLETE or status in RESULT_STATUSES:
                done.add(key)
            elif t.state == TrialState.WAITING:
                pending.add(key)
            elif t.state == TrialState.RUNNING and reclaim_running:
                self.fail(t._trial_id, "interrupted", "the worker stopped mid-run")
                failed.add(key)
            elif t.state == TrialState.FAIL:
                failed.add(key)
        added = requeued = 0
        for attrs in runs:
            key = attrs["run_key"]
            if key in done or key in pending:
                continue
            self.study.enqueue_trial({}, user_attrs=attrs)
            pending.add(key)
            added += 1
            requeued += key in failed
        planned = {a["run_key"] for a in runs}  # an edited file may leave other keys behind
        return SyncReport(len(done & planned), requeued, added, len(pending & planned))

    def unresolved(self, keys: list[str]) -> int:
        """How many of these run keys have no result (finished or diverged) yet."""
        done = {t.user_attrs.get("run_key") for t in self.trials()
                if t.state == TrialState.COMPLETE or t.user_attrs.get("status") in RESULT_STATUSES}
        return sum(1 for k in keys if k not in done)

    def counts(self) -> dict[str, int]:
        out = {"queued": 0, "running": 0, "finished": 0, "diverged": 0, "failed": 0}
        for t in self.trials():
            if t.state == TrialState.WAITING:
                out["queued"] += 1
            elif t.state == TrialState.RUNNING:
                out["running"] += 1
            elif t.state == TrialState.COMPLETE:
                out["finished"] += 1
            elif t.user_attrs.get("status") == "diverged":
                out["diverged"] += 1
            else:
                out["failed"] += 1
        return out

    # ---- worker side ---------------------------------------------------------------
    def claim(self) -> Claimed | None:
        """Take the next queued run, or None when the queue is empty. Never creates trials."""
        for t in self.trials((TrialState.WAITING,)):
            try:
                if not self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                    continue
            except UpdateFinishedTrialError:
                continue
            self.storage.set_trial_user_attr(t._trial_id, "worker",
                                             f"{socket.gethostname()}:{os.getpid()}")
            return Claimed(t._trial_id, t.number, dict(t.user_attrs))
        return None

    def set_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        for k, v in attrs.items():
            self.storage.set_trial_user_attr(trial_id, k, v)

    def complete(self, trial_id: int, value: float | None, attrs: dict[str, Any]) -> None:
        self.set_attrs(trial_id, {"status": "finished", **attrs})
        ok = value is not None and math.isfinite(value)
        self.storage.set_trial_state_values(trial_id, TrialState.COMPLETE,
                                            values=[value] if ok else None)

    def fail(self, trial_id: int, status: str, reason: str, attrs: dict | None = None) -> None:
        self.set_attrs(trial_id, {"status": status, "failure_reason": reason, **(attrs or {})})
        try:
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            pass
