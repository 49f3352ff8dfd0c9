"""Many machines, for real: a PostgreSQL-backed Optuna study, `mlflow server` on PostgreSQL,
three `ganbench worker` processes, one SIGKILLed mid-run (with its whole process group, as a
preempted node would be).

Checks: every (cell, seed) ends with exactly one finished MLflow run; the killed attempt is
closed as failed with the reason; its retry resumed from the killed attempt's checkpoint and
ends exactly where an uninterrupted run ends (the same sweep on local storage gives the same
finished run keys and the same metrics).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from helpers.procs import ganbench, kill_group, wait_until
from mlflow import MlflowClient

from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.scheduler import Queue, status_of

pytestmark = pytest.mark.slow

SPEC = """
name: fleet
base: {dataset: ring8, model: mlp, steps: 1200, batch_size: 64, log_every: 100,
       eval_every: 400}
tricks:
  spectral_norm: [off, on]
seeds: 2
metric: {name: modes, goal: max}
"""
WORKER_FLAGS = ("--device", "cpu", "--threads", "1", "--checkpoint-every", "200",
                "--heartbeat-interval", "1", "--grace-period", "4")


@pytest.fixture(scope="module")
def servers(pg_mlflow):
    pg, uri = pg_mlflow
    # Plain postgresql:// URLs, as a user types them (the driver is SQLAlchemy's default).
    return pg.url("optuna", driver=None), uri


def finished_runs(uri: str, name: str) -> pd.DataFrame:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], "tags.`ganbench.role` = 'run'",
                              max_results=1000)
    return pd.DataFrame([{**r.data.tags, "run_id": r.info.run_id, "run_status": r.info.status,
                          "key": r.data.tags["ganbench.run_key"],
                          **{f"m.{k}": v for k, v in r.data.metrics.items()}} for r in runs])


def test_three_workers_one_killed(tmp_path, sweep_file, servers):
    optuna_url, mlflow_uri = servers
    spec = sweep_file(SPEC)
    res = tmp_path / "results"
    common = ("--storage", optuna_url, "--results", str(res))
    enq = ganbench("sweep", str(spec), *common, "--tracking-uri", mlflow_uri, "--workers", "0",
                   cwd=tmp_path)
    out, _ = enq.communicate(timeout=300)
    assert enq.returncode == 0, out
    assert "4 to run" in out and "ganbench worker fleet" in out

    workers = [ganbench("worker", "fleet", *common, *WORKER_FLAGS, cwd=tmp_path)
               for _ in range(3)]
    queue = Queue(optuna_url, "fleet", None)
    client = MlflowClient(mlflow_uri)

    def checkpointed_running():
        for t in queue.running():
            run = t.user_attrs.get("mlflow_run_id")
            if run and client.list_artifacts(run, "checkpoint"):
                return t
        return None

    try:
        assert wait_until(lambda: checkpointed_running() is not None, timeout=240, every=0.2), \
            "no run wrote a checkpoint"
        victim = checkpointed_running()
        pid = int(victim.user_attrs["worker"].split(":")[-1])
        owner = next(w for w in workers if w.pid == os.getpgid(pid))
        kill_group(owner, signal.SIGKILL)
        killed_run = victim.user_attrs["mlflow_run_id"]
        survivors = [w for w in workers if w is not owner]
        outs = [w.communicate(timeout=400)[0] for w in survivors]
        for w, o in zip(survivors, outs, strict=True):
            assert w.returncode == 0, o
        owner.wait(timeout=30)
    finally:
        for w in workers:
            kill_group(w, signal.SIGKILL)

    runs = finished_runs(mlflow_uri, "fleet")
    done = runs[runs["run_status"] == "FINISHED"]
    assert len(done) == 4 and done["key"].is_unique  # one finished run per (cell, seed)

    lost = runs[runs["run_id"] == killed_run].iloc[0]
    assert lost["run_status"] == "FAILED" and lost["status"] == "lost"
    assert "no heartbeat" in lost["failure_reason"]
    retry = done[done["key"] == victim.user_attrs["run_key"]].iloc[0]
    assert retry["resumed_from_run"] == killed_run
    assert int(retry["resumed_from_step"]) >= 200  # not from step 0

    counts = queue.counts()
    assert counts["finished"] == 4 and counts["queued"] == 0 and counts["running"] == 0
    lost_trials = [t for t in queue.trials() if status_of(t) == "lost"]
    assert [t.number for t in lost_trials] == [victim.number]
    retried = [t for t in queue.trials() if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retried) == 1 and retried[0].user_attrs["attempt_runs"] == [killed_run]

    status = subprocess.run([sys.executable, "-m", "ganbench", "status", "fleet",
                             "--storage", optuna_url], capture_output=True, text=True,
                            timeout=120)
    assert status.returncode == 0, status.stderr
    assert "4 done" in status.stdout and "lost" in status.stdout

    # The same sweep on the default local storage: same finished run keys, same results
    # (the resumed run is bit-identical to an uninterrupted one on CPU).
    local = tmp_path / "local"
    proc = ganbench("sweep", str(spec), "--results", str(local), "--workers", "2",
                    "--device", "cpu", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    alone = finished_runs(default_tracking_uri(local), "fleet")
    alone = alone[alone["run_status"] == "FINISHED"]
    assert set(alone["key"]) == set(done["key"])
    metrics = [c for c in alone.columns if c.startswith("m.eval/")]
    assert metrics
    a = alone.set_index("key")[metrics].sort_index()
    b = done.set_index("key")[metrics].sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)

    report = subprocess.run([sys.executable, "-m", "ganbench", "report", "fleet",
                             "--tracking-uri", mlflow_uri, "--results", str(tmp_path / "rep")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    ranked = pd.read_csv(next((tmp_path / "rep").rglob("runs.csv")))
    assert len(ranked) >= 4
