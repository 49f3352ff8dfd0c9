"""Local state files under faults: the journal's torn tail and failed appends, atomic writes,
and the queue's reconciliation with the MLflow record (no training: fast)."""

from __future__ import annotations

import errno
import json
import os

import pytest

from ganbench import atomic
from ganbench.atomic import DiskFullError, write_atomic
from ganbench.sweep import scheduler
from ganbench.sweep.journal import JournalCorruptError, repair
from ganbench.sweep.scheduler import Queue, Recorded

HINT = "rebuild it"


def lines(*objs) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def test_repair_cuts_a_torn_tail_keeps_a_copy_and_refuses_a_bad_middle(tmp_path):
    path = tmp_path / "study.journal"
    path.write_bytes(lines({"a": 1}, {"b": 2}))
    assert repair(path, HINT) is None
    path.write_bytes(lines({"a": 1}, {"b": 2}) + b'{"c": ')
    note = repair(path, HINT)
    assert note and "line 3" in note and "\n" not in note
    assert path.read_bytes() == lines({"a": 1}, {"b": 2})
    [aside] = tmp_path.glob("study.journal.torn-*")
    assert aside.read_bytes().endswith(b'{"c": ')
    path.write_bytes(lines({"a": 1}) + b'{"x" 1}\n' + lines({"b": 2}))
    with pytest.raises(JournalCorruptError, match=rf"{path}:2: corrupt journal line.*{HINT}"):
        repair(path, HINT)


def test_a_failed_journal_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "study.journal"
    storage, _ = scheduler.open_journal(str(path))
    backend = storage._backend
    backend.append_logs([{"op_code": 0, "x": 1}])
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(scheduler.os, "write", half_then_full)
    with pytest.raises(OSError) as e:
        backend.append_logs([{"op_code": 0, "x": 2}])
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(path)
    assert path.read_bytes() == before
    backend.append_logs([{"op_code": 0, "x": 3}])
    assert [log["x"] for log in backend.read_logs(0)] == [1, 3]


def test_write_atomic_keeps_the_old_file_and_names_the_path_when_the_disk_is_full(
        tmp_path, monkeypatch):
    path = tmp_path / "report.md"
    write_atomic(path, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(DiskFullError, match=f"disk full writing {path}"):
        write_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def planned(n: int) -> list[dict]:
    return [{"run_key": f"k{i}", "run_name": f"run {i}", "config": "{}"} for i in range(n)]


def test_sync_reconciles_the_queue_with_the_record_both_ways(tmp_path):
    q = Queue(str(tmp_path / "j.journal"), "s")
    assert q.sync(planned(3), recorded={}).waiting == 3
    for _ in range(3):  # all three finish in the queue
        job = q.claim()
        q.complete(job.trial_id, 1.0, {})
    # k0 is in the record; k1's MLflow run is missing; k2 finished while the queue lost it
    s = q.sync(planned(3), recorded={"k0": Recorded("finished", "r0", 1.0),
                                     "k2": Recorded("finished", "r2", 2.0)})
    assert (s.done, s.missing, s.waiting) == (2, 1, 1)
    c = q.counts()
    assert (c["finished"], c["queued"]) == (2, 1)  # k1's old result no longer counts
    assert q.unresolved(["k0", "k1", "k2"]) == 1
    # a claimed run whose worker died after MLflow FINISHED, before the trial: closed
    job = q.claim()
    s = q.sync(planned(3), recorded={k: Recorded("finished", k, 1.0) for k in ("k0", "k1", "k2")})
    assert (s.done, s.closed, s.waiting, s.requeued) == (3, 1, 0, 0)
    assert q.counts()["finished"] == 3 and q.unresolved(["k0", "k1", "k2"]) == 0
    assert job is not None
    # a fresh queue (journal set aside) is rebuilt from the record
    q2 = Queue(str(tmp_path / "fresh.journal"), "s")
    s = q2.sync(planned(3), recorded={"k0": Recorded("finished", "r0", 1.0),
                                      "k1": Recorded("diverged", "r1")})
    assert (s.done, s.closed, s.waiting) == (2, 2, 1)
    assert q2.counts() == {"queued": 1, "running": 0, "finished": 1, "diverged": 1, "failed": 0}


def test_the_record_says_which_runs_hold_a_result_and_finds_a_second_attempt(tmp_path):
    """What the worker asks before marking a run FINISHED (never two per key) and what the
    stale-run reaper asks before re-queuing a lost run."""
    from ganbench.store.mlflow import RUN_KEY, MLflowStore

    store = MLflowStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = store.experiment("s", tmp_path / "artifacts")
    parent = store.parent_run(exp, "s")
    done = store.start_child(exp, parent, "a", {RUN_KEY: "k"})
    done.log_metrics({"eval/modes/final": 7.0}, 10)
    done.finish("FINISHED")
    retry = store.start_child(exp, parent, "a", {RUN_KEY: "k"})
    diverged = store.start_child(exp, parent, "b", {RUN_KEY: "d", "status": "diverged"})
    diverged.finish("FAILED")
    assert store.other_result(exp, "k", retry.run_id) == done.run_id
    assert store.other_result(exp, "k", done.run_id) is None
    assert store.result_of(done.run_id, "modes") == ("finished", 7.0)
    assert store.result_of(retry.run_id, "modes") is None
    assert store.results(exp, "modes") == {"k": ("finished", done.run_id, 7.0),
                                           "d": ("diverged", diverged.run_id, None)}
