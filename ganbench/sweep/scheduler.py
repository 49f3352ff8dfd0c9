"""The Optuna study is the work queue (the only module that imports optuna).

Each planned run is an enqueued trial (WAITING) carrying its run key, cell and full config in
user attributes; a worker claims one by moving it WAITING -> RUNNING, which the storage makes
atomic across processes. Outcomes: COMPLETE (value = ranking metric), or FAIL with a `status`
attribute: diverged (a result, never re-run), killed / interrupted / error / lost (re-run).

Two kinds of storage:
- a journal file (the default): one machine, one controller. A rerun of `ganbench sweep`
  reclaims whatever was left RUNNING, since its owner must be dead.
- an RDB URL (postgresql://, sqlite://): shared by workers on many machines. Each worker
  sends Optuna heartbeats for its run; any worker fails a run whose heartbeats stopped for
  the grace period and re-queues it (Optuna's RetryHeartbeatStaleTrialCallback), carrying the
  MLflow ids of the earlier attempts so the retry resumes from their last checkpoint.
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

optuna.logging.set_verbosity(optuna.logging.WARNING)

RESULT_STATUSES = ("finished", "diverged")  # outcomes that count as done
# The attributes a planned run is enqueued with; a retry carries these and nothing of the
# failed attempt but the MLflow ids of all attempts so far (where its checkpoints are).
PLANNED = ("run_key", "cell_id", "cell", "run_name", "seed", "config")
ATTEMPTS = "attempt_runs"
META = "ganbench"  # study user attribute: what a worker elsewhere needs to know


class StudyNotFoundError(ValueError):
    """No study of that name in the storage; the message lists the ones there are."""


class StorageUnavailableError(ValueError):
    """The storage URL cannot be opened (server down, wrong password, missing driver)."""


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def is_shared(url: str) -> bool:
    """RDB storages are shared (heartbeats, no reclaiming); journal files are local."""
    return "://" in url and not url.startswith("journal:")


@dataclass(frozen=True)
class Liveness:
    """Optuna heartbeat settings (seconds, integers as Optuna wants): a run whose worker has
    sent no heartbeat for `grace` is failed and re-queued by any other worker."""

    interval: int = 30
    grace: int = 120


def open_storage(url: str, liveness: Liveness | None = None,
                 on_stale: Callable | None = None):
    """A path (or journal:PATH) is a local journal file; anything else an Optuna storage URL."""
    if url.startswith("journal:"):
        url = url[len("journal:"):]
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    if liveness is None:
        return optuna.storages.RDBStorage(url)
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=liveness.interval,
                                          grace_period=liveness.grace,
                                          heartbeat_stale_trial_callback=on_stale)


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


def retry_attrs(a: dict[str, Any]) -> dict[str, Any]:
    """A retry's attributes: the planned run plus the MLflow runs of every attempt so far."""
    runs = list(a.get(ATTEMPTS, [])) + ([a["mlflow_run_id"]] if a.get("mlflow_run_id") else [])
    retry = {k: a[k] for k in PLANNED if k in a}
    if runs:
        retry[ATTEMPTS] = runs
    return retry


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    """direction=None opens an existing study (a worker) and fails clearly when there is none.

    With `liveness` (RDB storages only) claimed runs get heartbeats and `reap()` re-queues
    runs of dead workers; `on_lost(attrs, reason)` is told about each (to close its record).
    """

    def __init__(self, storage_url: str, study_name: str, direction: str | None = "maximize",
                 liveness: Liveness | None = None,
                 on_lost: Callable[[dict[str, Any], str], None] | None = None) -> None:
        self.liveness = liveness if is_shared(storage_url) else None
        self.on_lost = on_lost
        try:
            self.storage = open_storage(storage_url, self.liveness, self._requeue)
        except Exception as e:
            if not (isinstance(e, ImportError)
                    or type(e).__module__.startswith(("sqlalchemy", "psycopg", "optuna"))):
                raise
            cause = e.__cause__ if isinstance(e, ImportError) and e.__cause__ else e
            first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
            raise StorageUnavailableError(
                f"cannot open the Optuna storage {redact(storage_url)}: {first}") from None
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

    def sync(self, runs: list[dict[str, Any]], reclaim_running: bool = True) -> SyncReport:
        """Make the queue hold every planned run that has no result yet.

        runs: user-attribute dicts, each with a unique "run_key". With reclaim_running, trials
        left RUNNING belong to dead workers (one controller per local study) and are failed
        as 'interrupted', then enqueued again.
        """
        done, pending, failed = set(), set(), set()
        attempts: dict[str, list[str]] = {}  # run key -> MLflow runs of failed attempts
        for t in sorted(self.trials(), key=lambda t: t.number):
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
            if key in failed and t.user_attrs.get("mlflow_run_id"):
                attempts.setdefault(key, []).append(t.user_attrs["mlflow_run_id"])
        added = requeued = 0
        for attrs in runs:
            key = attrs["run_key"]
            if key in done or key in pending:
                continue
            if attempts.get(key):  # resume from the interrupted attempts' checkpoints
                attrs = {**attrs, ATTEMPTS: attempts[key]}
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

    def running(self) -> list[FrozenTrial]:
        return self.trials((TrialState.RUNNING,))

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
        if self.on_lost:  # the trial is FAIL already (Optuna's doing): its attrs are frozen
            self.on_lost(dict(a), reason)
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
