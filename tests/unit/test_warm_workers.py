"""Warm workers (sweep/warm.py): started before the sweep is ready, stopped cleanly when it
has nothing to run, and handed exactly one context each."""

from __future__ import annotations

import time

import pytest

from ganbench.sweep.warm import WarmWorkers, warm_workers


def test_unused_warm_workers_stop_without_running_anything():
    t0 = time.monotonic()
    with warm_workers(2) as warm:
        procs = list(warm.procs)
        assert len(procs) == 2 and all(p.is_alive() for p in procs)
    assert not any(p.is_alive() for p in procs)
    assert all(p.exitcode is not None for p in procs)
    assert time.monotonic() - t0 < 30


def test_a_warm_worker_told_none_exits_zero_after_its_imports():
    pool = WarmWorkers(1)
    proc = pool.procs[0]
    time.sleep(0.1)
    pool._conns[0].send(None)  # what close() sends: the controller has nothing to run
    proc.join(timeout=120)
    assert proc.exitcode == 0
    pool._conns, pool.procs = [], []


def test_take_needs_one_context_per_worker():
    with warm_workers(1) as warm:
        with pytest.raises(ValueError, match="2 contexts for 1 warm workers"):
            warm.take([object(), object()])
    assert warm.procs == []


def test_workers_start_early_only_for_a_sweep_with_no_study_yet(tmp_path):
    from ganbench.cli.sweep import _new_sweep

    spec = tmp_path / "s.yaml"
    spec.write_text("name: fresh\ntricks: {ttur: {}}\n")
    results = tmp_path / "results"
    assert _new_sweep(spec, results, None)
    (results / "fresh").mkdir(parents=True)
    (results / "fresh" / "study.journal").write_text("")
    assert not _new_sweep(spec, results, None)  # a rerun may have nothing to do: cold
    assert _new_sweep(spec, results, "postgresql://db/x")  # shared: always new work here
    for bad in ("name: [", "- a list\n", "tricks: [ttur]\n", ""):
        spec.write_text(bad)
        assert not _new_sweep(spec, results, None)  # its error comes from loading it
    assert not _new_sweep(tmp_path / "missing.yaml", results, None)


def test_a_refused_sweep_file_stops_the_early_workers(tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "s.yaml"
    spec.write_text("name: refused\ntricks: {no_such_trick: {}}\n")
    t0 = time.monotonic()
    got = subprocess.run([sys.executable, "-m", "ganbench", "sweep", str(spec), "--workers",
                          "2", "--results", str(tmp_path / "r")], capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 2, got.stderr
    assert "no_such_trick" in got.stderr and "Traceback" not in got.stderr
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "r" / "refused").exists()
