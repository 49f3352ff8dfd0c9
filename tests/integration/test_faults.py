"""Damaged state: each fault, then a rerun; every run ends finished exactly once and the
results (final metrics and G's weights, bit for bit) equal an uninterrupted sweep's.

The sweep runs in this process (helpers/sweep_faults.py) so a test can break the code at one
point."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import time

import pytest
from helpers.cli import assert_user_error, invoke
from helpers.sweep_faults import (
    SPEC,
    drain,
    finished_results,
    forget_stores,
    full_sweep,
    runs,
    start,
    write_spec,
)

from ganbench.atomic import DiskFullError
from ganbench.cli.sweep import sync_line
from ganbench.store.mlflow import MLflowCheckpointer
from ganbench.sweep import journal as journal_module
from ganbench.sweep.scheduler import Liveness, Queue, Recorded

pytestmark = pytest.mark.slow  # each trains a few tiny sweeps (~10-40 s on a busy machine)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted sweep's results."""
    ref = full_sweep(tmp_path_factory.mktemp("reference"))
    assert len(ref) == 4
    return ref


def journal_of(res):
    return res / "faults" / "study.journal"


def stop_after(monkeypatch, n: int) -> None:
    """The worker finds the queue empty after claiming n runs (a sweep stopped midway)."""
    claim, taken = Queue.claim, []

    def limited(self):
        if len(taken) >= n:
            return None
        taken.append(1)
        return claim(self)

    monkeypatch.setattr(Queue, "claim", limited)


def test_a_torn_journal_tail_is_set_aside_and_the_sweep_finishes(tmp_path, monkeypatch,
                                                                 reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    with monkeypatch.context() as m:
        stop_after(m, 2)
        drain(start(spec, res), res)
    path = journal_of(res)
    torn = b'{"op_code":5,"worker_id":"host:1","trial_id":3,"user_a'  # disk full mid-append
    with open(path, "ab") as f:
        f.write(torn)
    sw = start(spec, res)
    assert len(sw.notes) == 1 and "\n" not in sw.notes[0]
    assert f"repaired {path}" in sw.notes[0] and "cut off mid-write" in sw.notes[0]
    aside = list(path.parent.glob("study.journal.torn-*"))
    assert len(aside) == 1 and aside[0].read_bytes().endswith(torn)
    assert path.read_bytes().endswith(b"\n")
    assert start(spec, res).notes == []  # the rerun did not append onto the torn line
    drain(sw, res)
    assert finished_results(res) == reference


def test_a_corrupt_line_mid_journal_is_refused_then_rebuilt_from_the_record(tmp_path,
                                                                           reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    drain(start(spec, res), res)
    path = journal_of(res)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"op_code": 4, "trial_id": 0, "state"  1}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(journal_module.JournalCorruptError) as e:
        start(spec, res)
    assert f"{path}:3: corrupt journal line" in str(e.value)
    assert f"mv {path} {path}.bad" in str(e.value) and "MLflow record" in str(e.value)
    assert_user_error(invoke("status", "faults", "--results", res), f"{path}:3")

    path.rename(path.with_name("study.journal.bad"))  # the remedy the message gives
    sw = start(spec, res)
    assert (sw.sync.done, sw.sync.waiting, sw.sync.closed) == (4, 0, 4)
    assert drain(sw, res) == 0
    assert sw.queue.counts()["finished"] == 4
    assert finished_results(res) == reference


def test_a_deleted_record_reruns_every_run(tmp_path, reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    drain(start(spec, res), res)
    (res / "mlflow.db").unlink()
    shutil.rmtree(res / "mlartifacts")
    forget_stores()
    r = invoke("status", "faults", "--results", res)
    assert r.exit_code == 0, r.output
    assert "disagreement" in r.output and "ganbench sweep FILE" in r.output
    sw = start(spec, res)
    assert (sw.sync.done, sw.sync.waiting, sw.sync.missing) == (0, 4, 4)
    assert "4 re-run: the queue had a result their MLflow record lacks" in sync_line(sw.sync, 1)
    drain(sw, res)
    assert finished_results(res) == reference
    assert sw.queue.counts()["finished"] == 4  # the stale results no longer count


class Killed(BaseException):
    """Stands for SIGKILL: nothing after this point runs."""


def test_a_kill_at_completion_leaves_no_run_open_or_twice(tmp_path, monkeypatch, reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    complete, calls = Queue.complete, []

    def dies_midway(self, trial_id, value, attrs):
        calls.append(trial_id)
        if len(calls) == 2:  # the status attribute is written, the state is not
            self.set_attrs(trial_id, {"status": "finished", **attrs})
            raise Killed
        complete(self, trial_id, value, attrs)

    with monkeypatch.context() as m:
        m.setattr(Queue, "complete", dies_midway)
        with pytest.raises(Killed):
            drain(start(spec, res), res)
    r = invoke("status", "faults", "--results", res)
    assert "finished in the MLflow record, running in the queue" in r.output, r.output
    sw = start(spec, res)
    assert (sw.sync.done, sw.sync.closed, sw.sync.waiting) == (2, 1, 2)
    drain(sw, res)
    assert finished_results(res) == reference  # asserts one FINISHED run per key
    c = sw.queue.counts()
    assert (c["finished"], c["running"], c["queued"]) == (4, 0, 0)
    assert "disagreement" not in invoke("status", "faults", "--results", res).output


def test_the_reaper_closes_a_lost_run_that_had_finished_instead_of_rerunning_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    q = Queue(url, "s", "maximize", liveness=Liveness(1, 2),
              on_lost=lambda attrs, reason: Recorded("finished", "mlflow-run", 3.0))
    q.sync([{"run_key": "k", "run_name": "r", "config": "{}"}])
    assert q.claim() is not None
    time.sleep(3)  # no heartbeats for longer than the grace period
    q.reap()
    c = q.counts()
    assert (c["finished"], c["queued"], c["running"]) == (1, 0, 0)  # not queued a second time
    assert q.unresolved(["k"]) == 0


def test_a_full_disk_stops_the_worker_in_one_line_and_a_rerun_finishes(tmp_path, monkeypatch,
                                                                      reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    save, calls = MLflowCheckpointer.save, []

    def full(self, state, step):
        calls.append(step)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/ckpt/step_30.pt")
        save(self, state, step)

    with monkeypatch.context() as m:
        m.setattr(MLflowCheckpointer, "save", full)
        with pytest.raises(DiskFullError) as e:
            drain(start(spec, res), res)
    assert str(e.value).startswith("disk full writing /data/ckpt/step_30.pt")
    assert "\n" not in str(e.value) and "rerun" in str(e.value)
    for line in journal_of(res).read_bytes().splitlines():
        json.loads(line)  # nothing half-written
    killed = runs(res)
    assert set(killed["status"]) == {"KILLED"}
    sw = start(spec, res)
    assert sw.sync.requeued == 1 and not sw.sync.errors
    drain(sw, res)
    assert finished_results(res) == reference  # the stopped run resumed from its checkpoint


def test_disk_full_in_the_controller_is_one_line_naming_the_path(tmp_path, monkeypatch):
    from ganbench.sweep import runner

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(runner, "write_atomic", full)
    r = invoke("sweep", write_spec(tmp_path), "--results", tmp_path / "results",
               "--workers", "0")
    assert_user_error(r, "disk full writing", "spec.yaml", "rerun the same command")


def test_an_errored_run_is_described_as_an_error_and_nothing_left_spawns_no_worker(
        tmp_path, monkeypatch, reference):
    from ganbench.sweep import runner, worker

    res, spec = tmp_path / "results", write_spec(tmp_path)
    real, calls = worker.train, []

    def fails_once(cfg, *a, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")
        return real(cfg, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(worker, "train", fails_once)
        drain(start(spec, res), res)
    sw = start(spec, res)
    assert sw.sync.errors == ("ValueError: boom",) and sw.sync.requeued == 0
    line = sync_line(sw.sync, 1)
    assert "1 re-run after an error: ValueError: boom" in line and "interruption" not in line
    drain(sw, res)
    assert finished_results(res) == reference

    def no_workers(*a, **kw):
        raise AssertionError("workers started with nothing to run")

    monkeypatch.setattr(runner, "run_workers", no_workers)
    r = invoke("sweep", spec, "--results", res)
    assert r.exit_code == 0, r.output
    assert "4 runs already have results, 0 to run" in r.output and "written:" in r.output


GROWN = {
    "seeds": SPEC.replace("seeds: [0, 1]", "seeds: [0, 1, 2]"),
    "cells": SPEC.replace("spectral_norm: [off, on]", "spectral_norm: [off, on]\n"
                          "  label_smoothing: [off, on]"),
    "axes": SPEC.replace("seeds: [0, 1]", "axes:\n  lr: [2.0e-4, 1.0e-3]\nseeds: [0, 1]"),
}


def test_a_sweep_grows_by_seeds_cells_and_axes_and_refuses_a_new_base(tmp_path, reference):
    res, spec = tmp_path / "results", write_spec(tmp_path)
    drain(start(spec, res), res)
    for kind, text in GROWN.items():
        sw = start(write_spec(tmp_path, text), res)
        assert sw.sync.done == 4, kind  # the runs done keep their results
        assert sw.sync.waiting == {"seeds": 2, "cells": 4, "axes": 4}[kind], kind
    sw = start(write_spec(tmp_path, GROWN["seeds"]), res)
    drain(sw, res)
    grown = finished_results(res)  # the earlier starts queued the new cells' and axes' runs
    assert len(grown) == 4 + 2 + 4 + 4 and {k: grown[k] for k in reference} == reference
    with pytest.raises(ValueError) as e:
        start(write_spec(tmp_path, SPEC.replace("steps: 40", "steps: 80")), res)
    assert "steps: 40 then, 80 now" in str(e.value) and "new name" in str(e.value)


RACE = """
import sys, time
start, uri, url = float(sys.argv[1]), sys.argv[2], sys.argv[3]
from ganbench.sweep.scheduler import Queue
from ganbench.store.mlflow import MLflowStore
while time.time() < start:
    time.sleep(0.001)
store = MLflowStore(uri)
store.parent_run(store.experiment(sys.argv[4]), sys.argv[4])
Queue(url, sys.argv[4], "maximize")
print("ok")
"""


def test_two_first_starts_on_one_fresh_sqlite_store_both_succeed(tmp_path):
    """Both processes create the MLflow tables and the Optuna study at the same moment."""
    uri, url = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'optuna.db'}"
    at = str(time.time() + 20)  # after both have imported everything
    procs = [subprocess.Popen([sys.executable, "-c", RACE, at, uri, url, name],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("a", "b")]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
