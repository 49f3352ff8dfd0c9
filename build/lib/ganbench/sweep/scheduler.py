"""The Optuna study is the work queue. optuna is imported here and in the modules this one is
built from (storage.py, trials.py, sync.py), nowhere else.

Each planned run is an enqueued trial (WAITING) whose user attributes are its `Job`
(sweep/job.py); a worker claims one by moving it WAITING -> RUNNING, which the storage makes
atomic across processes. Outcomes (sweep/trials.py): COMPLETE (value = ranking metric), or
FAIL with a `status` attribute: diverged (a result, never re-run), killed / interrupted /
error / lost (re-run).

On a journal file (one machine, one controller) a rerun of `ganbench sweep` reclaims whatever
was left RUNNING, since its owner must be dead. On an RDB URL (shared by workers on many
machines) each worker sends Optuna heartbeats for its run; any worker fails a run whose
heartbeats stopped for the grace period and re-queues it (Optuna's
RetryHeartbeatStaleTrialCallback), carrying the MLflow ids of the earlier attempts so the
retry resumes from their last checkpoint.
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState, create_trial

from ganbench.storelock import first_creation_lock
from ganbench.sweep.job import ATTEMPTS, PLANNED, Job, retry_attrs
from ganbench.sweep.storage import (
    Liveness,
    StorageUnavailableError,
    is_shared,
    open_for_queue,
    open_journal,
    open_storage,
    redact,
)
from ganbench.sweep.sync import SyncReport, plan_sync
from ganbench.sweep.trials import (
    RESULT_STATUSES,
    Recorded,
    has_result,
    latest,
    lost_reason,
    status_of,
)

META = "ganbench"  # study user attribute: what a worker elsewhere needs to know


class StudyNotFoundError(ValueError):
    """No study of that name in the storage; the message lists the ones there are."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claimed:
    trial_id: int
    number: int
    attrs: dict[str, Any]  # the trial's user attributes as claimed

    @cached_property
    def job(self) -> Job:
        """The planned run (read once; the attributes are as claimed)."""
        return Job.from_attrs(self.attrs)


class Queue:
    """direction=None opens an existing study (a worker) and fails clearly when there is none.

    With `liveness` (RDB storages only) claimed runs get heartbeats and `reap()` re-queues
    runs of dead workers; `on_lost(attrs, reason)` is told about each (to close its record) and
    returns the run's result when its MLflow run finished after all (then it is not re-run).
    """

    def __init__(self, storage_url: str, study_name: str, direction: str | None = "maximize",
                 liveness: Liveness | None = None,
                 on_lost: Callable[[dict[str, Any], str], Recorded | None] | None = None) -> None:
        self.liveness = liveness if is_shared(storage_url) else None
        self.on_lost = on_lost
        # repairs made on opening, one line each
        self.storage, self.notes = open_for_queue(storage_url, self.liveness, self._requeue)
        if direction is None:
            try:
                self.study = optuna.load_study(study_name=study_name, storage=self.storage)
            except KeyError:
                names = optuna.get_all_study_names(self.storage)
                have = ", ".join(names) or "none"
                raise StudyNotFoundError(
                    f"no sweep named {study_name!r} in {storage_url} (sweeps there: {have}); "
                    "enqueue it first with `ganbench sweep FILE --storage ... --workers 0`"
                ) from None
        else:
            with first_creation_lock(storage_url):  # two first starts create one study
                self.study = optuna.create_study(study_name=study_name, storage=self.storage,
                                                 direction=direction, load_if_exists=True)

    # ---- what workers elsewhere need to know ---------------------------------------
    def set_meta(self, meta: dict[str, Any]) -> None:
        self.study.set_user_attr(META, meta)

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.study.user_attrs.get(META, {}))

    # ---- controller side -----------------------------------------------------------
    def trials(self, states=None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def sync(self, runs: list[dict[str, Any]], reclaim_running: bool = True,
             recorded: dict[str, Recorded] | None = None) -> SyncReport:
        """Make the queue hold every planned run that has no result yet.

        runs: user-attribute dicts, each with a unique "run_key". With reclaim_running, trials
        left RUNNING belong to dead workers (one controller per local study) and are failed
        as 'interrupted', then enqueued again. With `recorded` (run key -> its result in the
        MLflow record, the source of truth) the queue is reconciled with the record in both
        directions: an open trial whose run has a result is closed with it, and a run whose
        trial holds a result its MLflow record lacks (a deleted store) is queued again.
        """
        closed = 0
        for t in self.trials((TrialState.WAITING, TrialState.RUNNING)):
            rec = (recorded or {}).get(t.user_attrs.get("run_key"))
            if rec is not None and (t.state == TrialState.WAITING or reclaim_running):
                closed += self._close(t, rec)
            elif t.state == TrialState.RUNNING and reclaim_running:
                self.fail(t._trial_id, "interrupted", "the worker stopped mid-run")
        adds, report = plan_sync(self.trials(), runs, recorded)
        for add in adds:
            if add.result is None:
                self.study.enqueue_trial({}, user_attrs=add.attrs)
            else:
                self._add_result(add.attrs, add.result)
        return replace(report, closed=report.closed + closed)

    def _close(self, t: FrozenTrial, rec: Recorded) -> int:
        """Close an open trial with the result its MLflow run holds; 1 if it was closed."""
        if t.state == TrialState.WAITING:  # claim it first, so no worker starts it now
            try:
                if not self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                    return 0
            except UpdateFinishedTrialError:
                return 0
        self.set_attrs(t._trial_id, self._result_attrs(rec))
        ok = rec.status == "finished" and rec.value is not None and math.isfinite(rec.value)
        try:
            self.storage.set_trial_state_values(
                t._trial_id, TrialState.COMPLETE if rec.status == "finished" else TrialState.FAIL,
                values=[rec.value] if ok else None)
        except UpdateFinishedTrialError:
            return 0
        return 1

    def _add_result(self, attrs: dict[str, Any], rec: Recorded) -> None:
        """A closed trial for a run whose result is in the record but not in the queue."""
        planned = {k: attrs[k] for k in PLANNED if k in attrs}
        ok = rec.status == "finished" and rec.value is not None and math.isfinite(rec.value)
        self.study.add_trial(create_trial(
            state=TrialState.COMPLETE if ok else TrialState.FAIL, value=rec.value if ok else None,
            user_attrs={**planned, **self._result_attrs(rec)}))

    @staticmethod
    def _result_attrs(rec: Recorded) -> dict[str, Any]:
        return {"status": rec.status, "mlflow_run_id": rec.run_id, "closed_from_record": True,
                "metric": rec.value if rec.value is not None and math.isfinite(rec.value)
                else None}

    def unresolved(self, keys: list[str]) -> int:
        """How many of these run keys have no result (finished or diverged) yet."""
        last = latest(self.trials())
        return sum(1 for k in keys if k not in last or not has_result(last[k]))

    def running(self) -> list[FrozenTrial]:
        return self.trials((TrialState.RUNNING,))

    def counts(self) -> dict[str, int]:
        out = {"queued": 0, "running": 0, "finished": 0, "diverged": 0, "failed": 0}
        trials = self.trials()
        last = {k: t.number for k, t in latest(trials).items()}
        for t in trials:
            if t.state == TrialState.WAITING:
                out["queued"] += 1
            elif t.state == TrialState.RUNNING:
                out["running"] += 1
            elif has_result(t):
                if last.get(t.user_attrs.get("run_key")) == t.number:  # not superseded
                    out["diverged" if t.user_attrs.get("status") == "diverged"
                        else "finished"] += 1
            else:
                out["failed"] += 1
        return out

    # ---- worker side ---------------------------------------------------------------
    def claim(self) -> Claimed | None:
        """Take the next queued run, or None when the queue is empty. Never creates trials."""
        for t in self.trials((TrialState.WAITING,)):
            if (job := self._take(t)) is not None:
                return job
        return None

    def _take(self, t: FrozenTrial) -> Claimed | None:
        """WAITING -> RUNNING, atomic in the storage; None when another worker was first."""
        try:
            if not self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                return None
        except UpdateFinishedTrialError:
            return None
        if self.liveness:  # a RUNNING trial without any heartbeat is never seen as stale
            self.storage.record_heartbeat(t._trial_id)
        self.storage.set_trial_user_attr(t._trial_id, "worker", worker_id())
        return Claimed(t._trial_id, t.number, dict(t.user_attrs))

    def claim_cell(self, cell_id: str, limit: int, skip_retries: bool = False) -> list[Claimed]:
        """Claim up to `limit` more queued runs of one cell (its other seeds), to train them
        stacked; runs another worker claims first are simply not ours."""
        out: list[Claimed] = []
        for t in self.trials((TrialState.WAITING,)):
            if len(out) >= limit:
                break
            if t.user_attrs.get("cell_id") != cell_id or (skip_retries
                                                           and t.user_attrs.get(ATTEMPTS)):
                continue
            if (job := self._take(t)) is not None:
                out.append(job)
        return out

    def beat(self, trial_id: int) -> None:
        """One heartbeat for a claimed run (the worker's heartbeat thread calls this)."""
        if self.liveness:
            self.storage.record_heartbeat(trial_id)

    def reap(self) -> None:
        """Fail and re-queue the runs of workers whose heartbeats stopped (no-op on journals)."""
        if self.liveness:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)

    def still_claimed(self, trial_id: int) -> bool:
        """False when another worker took this run away (our heartbeats were missed)."""
        return self.storage.get_trial(trial_id).state == TrialState.RUNNING

    def _requeue(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna's stale-trial callback: say why on the lost attempt, then retry it."""
        a = trial.user_attrs
        reason = lost_reason(a, self.liveness.grace if self.liveness else 0)
        # The trial is FAIL already (Optuna's doing): its attrs are frozen.
        rec = self.on_lost(dict(a), reason) if self.on_lost else None
        if rec is not None:  # it finished before its worker died: a retry would be a second
            self._add_result(a, rec)
            return
        trial.user_attrs = retry_attrs(a)
        RetryHeartbeatStaleTrialCallback()(study, trial)

    def requeue(self, attrs: dict[str, Any]) -> None:
        """Queue a run again after an interrupted attempt (not a result, not a bug)."""
        self.study.enqueue_trial({}, user_attrs=retry_attrs(attrs))

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


__all__ = ["ATTEMPTS", "META", "PLANNED", "RESULT_STATUSES", "Claimed", "Liveness", "Queue",
           "Recorded", "StorageUnavailableError", "StudyNotFoundError", "SyncReport",
           "has_result", "is_shared", "latest", "lost_reason", "open_journal", "open_storage",
           "redact", "retry_attrs", "status_of", "worker_id"]
