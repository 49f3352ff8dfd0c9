"""Issue 31, item 2: threads and workers chosen from the cores a process may use and the
load others put on them (ganbench/cores.py says what the rule rests on)."""

from __future__ import annotations

import os

import pytest
import torch

from ganbench import cores
from ganbench.config import RunConfig
from ganbench.sweep import worker


@pytest.fixture
def machine(monkeypatch):
    """A machine of `n` cores (all allowed unless `allowed`) at load `load`."""

    def make(n: int, load: float, allowed: int | None = None):
        monkeypatch.setattr(os, "cpu_count", lambda: n)
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(allowed or n)),
                            raising=False)
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))

    return make


def test_free_cores_are_the_allowed_ones_less_the_load(machine):
    machine(2, 0.1)
    assert cores.free_cores() == 2
    machine(2, 1.2)  # another CPU job
    assert cores.free_cores() == 1
    machine(2, 6.0)  # overloaded: still one
    assert cores.free_cores() == 1
    machine(64, 0.0, allowed=4)  # a container of 4 cores on a big idle host
    assert cores.free_cores() == 4
    machine(64, 32.0, allowed=4)  # ...on a host half busy
    assert cores.free_cores() == 2


def test_a_2d_run_takes_one_thread_an_image_run_the_free_cores(machine):
    machine(8, 0.0)
    assert cores.run_threads("points") == 1
    assert cores.run_threads("images") == 8
    assert cores.run_threads("images", processes=3) == 2
    machine(2, 1.0)
    assert cores.run_threads("images") == 1


def test_cpu_workers_one_per_allowed_core_at_most_one_per_run_and_per_gib(machine):
    machine(2, 1.5)  # the load does not change the count: the same command, the same workers
    assert cores.cpu_workers(6, memory=8 * 2**30) == 2
    assert cores.cpu_workers(1, memory=8 * 2**30) == 1
    assert cores.cpu_workers(0, memory=8 * 2**30) == 1
    machine(16, 0.0)
    assert cores.cpu_workers(100, memory=3 * 2**30) == 3
    assert cores.cpu_workers(100, memory=0) == 1


def test_a_worker_chooses_threads_per_run_unless_told(monkeypatch):
    ctx = worker.WorkerContext("s", "s", "maximize", "u", "e", "p", "m", threads=3,
                               auto_threads=True)
    points = RunConfig(dataset="ring8", model="mlp")
    images = RunConfig(dataset="mnist", model="dcgan28")
    old = torch.get_num_threads()
    try:
        worker._use_threads(ctx, points)
        assert torch.get_num_threads() == 1
        worker._use_threads(ctx, images)
        assert torch.get_num_threads() == 3
        told = worker.WorkerContext("s", "s", "maximize", "u", "e", "p", "m", threads=2)
        worker._use_threads(told, points)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
