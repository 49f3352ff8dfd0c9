"""Opening the Optuna storage that holds a sweep's study (one of the queue's modules, the only
ones that import optuna: see sweep/scheduler.py).

Two kinds:
- a journal file (the default): one machine, one controller. Each open checks its tail first
  (sweep/journal.py), and appends that fail (disk full) are cut back off.
- an RDB URL (postgresql://, sqlite://): shared by workers on many machines, with Optuna
  heartbeats (`Liveness`) so a run whose worker died is failed and re-queued.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.storages.journal._file import get_lock_file

from ganbench.safefile import regular_file
from ganbench.storelock import first_creation_lock
from ganbench.sweep import journal

optuna.logging.set_verbosity(optuna.logging.WARNING)


class StorageUnavailableError(ValueError):
    """The storage URL cannot be opened (server down, wrong password, missing driver)."""


def redact(url: str) -> str:
    """The URL without its password, for messages."""
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


LOCK_GRACE = 30  # seconds: Optuna's grace period for a lock nobody releases


def clear_dead_lock(path: str, grace: float = LOCK_GRACE) -> bool:
    """Remove `<path>.lock` when it is a symlink that resolves to nothing and is older than
    `grace` seconds. Optuna's symlink lock points at the journal path it was given; a relative
    one (`--results runs`) resolves against the lock's own folder, so it dangles: Optuna's
    stale-lock check then fails on it and retries without sleeping, and every later sweep or
    status spun at 100% CPU forever after a SIGKILL. Locks are made absolute now; this clears
    one left by a killed process (or an older ganbench)."""
    lock = path + ".lock"
    try:
        if not os.path.islink(lock) or os.path.exists(lock):
            return False
        age = time.time() - os.lstat(lock).st_mtime
        if age < grace:
            time.sleep(grace - age)  # a live holder releases it within the grace period
            if not os.path.islink(lock):
                return False
        os.unlink(lock)
        return True
    except FileNotFoundError:  # released meanwhile
        return False


def open_journal(path: str) -> tuple[JournalStorage, str | None]:
    """A local journal, after cutting off a torn last line (returned note says so)."""
    path = os.path.abspath(path)  # the lock's symlink must resolve from its own folder
    if os.path.exists(path):  # a FIFO or a device would block the tail check forever
        regular_file(path, "journal file")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    clear_dead_lock(path)
    lock = JournalFileSymlinkLock(path, grace_period=LOCK_GRACE)
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


def open_for_queue(url: str, liveness: Liveness | None,
                   on_stale: Callable) -> tuple[Any, list[str]]:
    """The storage a Queue works on, plus repair notes; a storage that cannot be opened is a
    one-line StorageUnavailableError."""
    try:
        if is_shared(url):
            return open_storage(url, liveness, on_stale), []
        storage, note = open_journal(url.removeprefix("journal:"))
        return storage, [note] if note else []
    except Exception as e:
        if not (isinstance(e, ImportError)
                or type(e).__module__.startswith(("sqlalchemy", "psycopg", "optuna"))):
            raise
        cause = e.__cause__ if isinstance(e, ImportError) and e.__cause__ else e
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise StorageUnavailableError(
            f"cannot open the Optuna storage {redact(url)}: {first}") from None


__all__ = ["Liveness", "SafeJournalBackend", "StorageUnavailableError", "is_shared",
           "open_journal", "open_storage", "redact"]
