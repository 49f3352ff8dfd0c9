"""Issue 31, item 2: `run` and `worker` take --threads and otherwise choose threads for the
machine (ganbench/cores.py); `sweep` without --workers chooses workers x threads."""

from __future__ import annotations

import os

import torch
from helpers.cli import invoke

from ganbench import cores
from ganbench.sweep import runner

RUN = "dataset: ring8\nmodel: mlp\nsteps: 2\nbatch_size: 8\neval_samples: 64\n"
SPEC = ("name: th\nbase: {dataset: ring8, model: mlp, steps: 4, batch_size: 8, "
        "eval_samples: 64}\ntricks:\n  ttur: [off, on]\nseeds: 3\n")


def test_run_takes_threads_and_a_2d_run_defaults_to_one(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    (tmp_path / "r.yaml").write_text(RUN)
    old = torch.get_num_threads()
    try:
        r = invoke("run", tmp_path / "r.yaml", "--no-mlflow", "--out", tmp_path / "a")
        assert r.exit_code == 0, r.output
        assert "/ 1 thread" in r.output and torch.get_num_threads() == 1
        r = invoke("run", tmp_path / "r.yaml", "--no-mlflow", "--out", tmp_path / "b",
                   "--threads", "2")
        assert r.exit_code == 0, r.output
        assert "/ 2 threads" in r.output and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)


def test_sweep_without_workers_runs_one_per_allowed_core_at_one_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "allowed_cores", lambda: 2)
    monkeypatch.setattr(cores, "available_memory", lambda: 64 * 2**30)
    seen = {}

    def fake(sw, opts, on_event=None, **kw):
        seen["contexts"] = runner.worker_contexts(sw, opts, [opts.device] * opts.workers)
        return {"crashed_workers": 1, "disk_full": 0}

    monkeypatch.setattr(runner, "run_workers", fake)
    (tmp_path / "s.yaml").write_text(SPEC)
    r = invoke("sweep", tmp_path / "s.yaml", "--results", tmp_path / "res", "--device", "cpu")
    assert "6 to run; 2 worker(s)" in r.output, r.output
    assert [(c.threads, c.auto_threads) for c in seen["contexts"]] == [(1, True), (1, True)]


def test_the_help_names_threads_and_the_system_extra():
    for cmd in ("run", "worker"):
        out = invoke(cmd, "--help").output
        assert "--threads" in out
    assert "pip install 'ganbench[system]'" in invoke("run", "--help").output
