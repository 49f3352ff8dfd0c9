"""Issue 27, class 8: a SIGKILL while holding the journal lock left `study.journal.lock` as a
symlink to a path relative to the working directory; Optuna's stale-lock check failed on the
dead link and retried without sleeping, so every later sweep or status spun at 100% CPU. The
lock now points at an absolute path, and a dead one is cleared."""

from __future__ import annotations

import os
import time

from optuna.storages.journal._file import get_lock_file

from ganbench.sweep.storage import clear_dead_lock, open_journal


def test_the_lock_points_at_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage, _ = open_journal("runs/fz/study.journal")
    lock = storage._backend._lock
    with get_lock_file(lock):
        target = os.readlink("runs/fz/study.journal.lock")
        assert os.path.isabs(target) and os.path.exists("runs/fz/study.journal.lock")
    assert not os.path.lexists("runs/fz/study.journal.lock")


def test_a_dead_relative_lock_left_by_a_kill_is_cleared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    open_journal("runs/fz/study.journal")
    lock = "runs/fz/study.journal.lock"
    os.symlink("runs/fz/study.journal", lock)  # what a killed holder left: it dangles
    old = time.time() - 120
    os.utime(lock, (old, old), follow_symlinks=False)
    t0, cpu0 = time.monotonic(), time.process_time()
    storage, _ = open_journal("runs/fz/study.journal")
    storage.get_all_studies()
    assert time.monotonic() - t0 < 5 and time.process_time() - cpu0 < 5
    assert not os.path.lexists(lock)


def test_a_fresh_dead_lock_is_waited_for_not_spun_on(tmp_path):
    journal = tmp_path / "study.journal"
    journal.write_text("")
    os.symlink("elsewhere/study.journal", f"{journal}.lock")
    cpu0 = time.process_time()
    assert clear_dead_lock(str(journal), grace=0.5)
    assert time.process_time() - cpu0 < 0.3  # slept, did not spin
    assert not clear_dead_lock(str(journal))  # nothing left to clear


def test_a_live_lock_is_left_alone(tmp_path):
    journal = tmp_path / "study.journal"
    journal.write_text("")
    os.symlink(str(journal), f"{journal}.lock")
    assert not clear_dead_lock(str(journal), grace=0)
    assert os.path.islink(f"{journal}.lock")
