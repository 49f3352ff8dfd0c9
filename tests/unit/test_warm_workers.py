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
