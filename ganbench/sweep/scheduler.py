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

import errno
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
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.storages.journal._file import get_lock_file
from optuna.trial import FrozenTrial, TrialState, create_trial

from ganbench.storelock import first_creation_lock
from ganbench.sweep import journal

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


class SafeJournalBackend(JournalFileBackend):
    """Optuna's journal file, but an append that fails (disk full) is cut back off, so the
    file never keeps a partial line for the next append to continue."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import json

        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs)
                + "\n").encode("utf-8")
        with get_lock_file(self._lock):
            fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND)
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError as e:
                os.ftruncate(fd, size)  # needs no space; the journal is as it was
                if e.errno == errno.ENOSPC and not e.filename:
                    e.filename = self._file_path
                raise
            finally:
                os.close(fd)


def open_journal(path: str) -> tuple[JournalStorage, str | None]:
    """A local journal, after cutting off a torn last line (returned note says so)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    lock = JournalFileSymlinkLock(path)
    with get_lock_file(lock):  # no writer is mid-append while we look at the tail
        note = journal.repair(Path(path), journal.rebuild_hint(Path(path)))
    return JournalStorage(SafeJournalBackend(path, lock)), note


def open_storage(url: str, liveness: Liveness | None = None,
                 on_stale: Callable | None = None):
    """A path (or journal:PATH) is a local journal file; anything else an Optuna storage URL."""
    if url.startswith("journal:"):
        url = url[len("journal:"):]
    if "://" not in url:
        return open_journal(url)[0]
    with first_creation_lock(url):  # two first starts on one SQLite file must not race
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
    requeued: int  # interrupted (killed, lost) runs put back in the queue
    added: int  # newly enqueued runs
    waiting: int  # queued now in total
    errors: tuple[str, ...] = ()  # why each run re-queued after an error failed
    missing: int = 0  # closed in the queue but without a result in the MLflow record: re-run
    closed: int = 0  # a result in the record but open in the queue: closed from the record


@dataclass(frozen=True)
class Recorded:
    """A run key's result in the MLflow record (the source of truth for "has a result")."""

    status: str  # finished | diverged
    run_id: str
    value: float | None = None


def has_result(t: FrozenTrial) -> bool:
    """Closed with a result. The status attribute alone does not count: it is written just
    before the state, so a crash between the two leaves an open trial with that attribute."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and
                                              t.user_attrs.get("status") in RESULT_STATUSES)


def latest(trials: list[FrozenTrial]) -> dict[str, FrozenTrial]:
    """Each run key's newest trial, which decides its state (an older result trial of a key
    that was re-queued because its MLflow run went missing no longer counts)."""
    out: dict[str, FrozenTrial] = {}
    for t in sorted(trials, key=lambda t: t.number):
        out[t.user_attrs.get("run_key")] = t
    return out


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
        self.notes: list[str] = []  # repairs made on opening, one line each
        try:
            if is_shared(storage_url):
                self.storage = open_storage(storage_url, self.liveness, self._requeue)
            else:
                self.storage, note = open_journal(storage_url.removeprefix("journal:"))
                self.notes += [note] if note else []
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
        trials = self.trials()
        last = latest(trials)
        attempts: dict[str, list[str]] = {}  # run key -> MLflow runs of failed attempts
        for t in sorted(trials, key=lambda t: t.number):
            if t.state == TrialState.FAIL and not has_result(t) and t.user_attrs.get(
                    "mlflow_run_id"):
                attempts.setdefault(t.user_attrs.get("run_key"), []).append(
                    t.user_attrs["mlflow_run_id"])
        done = requeued = added = waiting = missing = 0
        errors: list[str] = []
        for attrs in runs:
            key = attrs["run_key"]
            t = last.get(key)
            is_open = t is not None and t.state in (TrialState.WAITING, TrialState.RUNNING)
            if recorded is not None and key in recorded:
                if t is None or not (has_result(t) or is_open):
                    self._add_result(attrs, recorded[key])
                    closed += 1
                done += 1
                continue
            if t is not None and has_result(t):
                if recorded is None:
                    done += 1
                    continue
                missing += 1  # its MLflow run is gone: the result no longer exists
            elif is_open:
                waiting += t.state == TrialState.WAITING  # RUNNING: a live worker elsewhere
                continue
            elif t is not None:  # failed attempts: resume from their checkpoints
                attrs = {**attrs, ATTEMPTS: attempts.get(key, [])}
                if t.user_attrs.get("status") == "error":
                    errors.append(str(t.user_attrs.get("failure_reason", "error")))
                else:
                    requeued += 1
            self.study.enqueue_trial({}, user_attrs=attrs)
            added += 1
            waiting += 1
        return SyncReport(done, requeued, added, waiting, tuple(errors), missing, closed)

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
