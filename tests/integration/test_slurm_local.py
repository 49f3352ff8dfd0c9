"""`ganbench sweep --launcher slurm` for real, on submitit's local executor (`launcher:
{cluster: local}`): the array's jobs are real processes on this machine, the queue a real
PostgreSQL study and the record a real `mlflow server`, as tests/integration/test_cluster.py
starts them.

- one job SIGKILLed mid-run (its job process; its worker processes end with it): the other
  job takes the run over after the grace period and resumes it from its checkpoint;
- one job preempted (submitit's signal, USR2): it puts its run back in the queue, is requeued
  by submitit, and the requeued job resumes the run.
Either way every run ends with exactly one finished MLflow run, and `ganbench status` lists
the jobs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.procs import wait_until
from mlflow import MlflowClient

from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow

SPEC = """
name: {name}
base: {{dataset: ring8, model: mlp, steps: 300, batch_size: 64, log_every: 50,
       eval_every: 300}}
tricks:
  spectral_norm: [off, on]
seeds: {seeds}
metric: {{name: modes, goal: max}}
launcher: {{name: slurm, cluster: local, time: 30, heartbeat_interval: 1, grace_period: 4}}
"""


@pytest.fixture(scope="module")
def servers(pg_mlflow):
    pytest.importorskip("submitit", reason="submitit is not installed (pip install -e '.[dev]')")
    return pg_mlflow


def _cli(tmp: Path, log: Path, *args: str) -> subprocess.Popen:
    """The CLI in its own session (the jobs it starts join its process group, so the test
    can end them all), its output in a file: the jobs' controllers inherit it, and a pipe
    would stay open until they end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "ganbench", *args], cwd=tmp, env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)


def _submit(tmp: Path, spec: Path, res: Path, storage: str, uri: str, jobs: int) -> tuple:
    log = tmp / f"submit-{len(list(tmp.glob('submit-*')))}.log"
    proc = _cli(tmp, log, "sweep", str(spec), "--results", str(res), "--storage", storage,
                "--tracking-uri", uri, "--workers", str(jobs), "--device", "cpu",
                "--checkpoint-every", "50")
    assert proc.wait(timeout=300) == 0, log.read_text()
    return proc, log.read_text()


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _job_task(worker_pid: int) -> int:
    """The submitit task process (`python -m submitit.core._submit`) above a worker."""
    pid = worker_pid
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"submitit.core._submit" in f.read():
                return pid
        pid = _ppid(pid)
    raise AssertionError(f"worker {worker_pid} runs under no submitit job")


def _checkpointed_running(queue: Queue, client: MlflowClient):
    for t in queue.running():
        run = t.user_attrs.get("mlflow_run_id")
        if run and client.list_artifacts(run, "checkpoint"):
            return t
    return None


def _finished(uri: str, name: str) -> tuple[list[dict], list[dict]]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], "tags.`ganbench.role` = 'run'",
                              max_results=1000)
    rows = [{**r.data.tags, "run_id": r.info.run_id, "run_status": r.info.status}
            for r in runs]
    return [r for r in rows if r["run_status"] == "FINISHED"], rows


def _jobs(res: Path, name: str) -> list[str]:
    rec = json.loads((res / name / "launch.json").read_text())
    return [j for s in rec["submissions"] for j in s["jobs"]]


def _alive(pid: int) -> bool:
    from ganbench.sweep.orphans import alive

    return alive(pid)


def _logs(res: Path, name: str) -> str:
    """The jobs' submitit logs and the sweep's own, for a failure's message: without them a
    failure in CI says only that a count was wrong."""
    out = []
    for f in sorted((res / name / "submitit").glob("*_log.*")):
        out.append(f"==== {f.name}\n{f.read_text(errors='replace')[-6000:]}")
    return "\n".join(out) or "(no job logs)"


def _end_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_array_of_two_one_job_killed(tmp_path, sweep_file, servers):
    pg, uri = servers
    storage = pg.url("optuna", driver=None)
    spec = sweep_file(SPEC.format(name="array", seeds=2))
    res = tmp_path / "results"
    proc, out = _submit(tmp_path, spec, res, storage, uri, jobs=2)
    try:
        assert "4 to run" in out and "submitted 2 slurm job(s)" in out, out
        assert f"logs: {res.resolve() / 'array' / 'submitit'}" in out
        assert "ganbench status array" in out and "ganbench report array" in out
        jobs = _jobs(res, "array")
        assert len(jobs) == 2 and all(_alive(int(j)) for j in jobs)

        queue = Queue(storage, "array", None)
        client = MlflowClient(uri)
        assert wait_until(lambda: _checkpointed_running(queue, client) is not None,
                          timeout=300, every=0.2), "no run wrote a checkpoint"
        victim = _checkpointed_running(queue, client)
        task = _job_task(int(victim.user_attrs["worker"].split(":")[-1]))
        killed_job = str(_ppid(task))  # a local job's id is its controller's pid
        assert killed_job in jobs
        os.kill(task, signal.SIGKILL)  # as a lost node: no signal handler runs

        # The other job waits while a run is in flight, takes it over once its heartbeats
        # stop, and ends when nothing is left; the killed job's controller is not requeued.
        assert wait_until(lambda: not any(_alive(int(j)) for j in jobs), timeout=600,
                          every=1), "the jobs did not end"
    finally:
        _end_group(proc)

    done, rows = _finished(uri, "array")
    keys = [r["ganbench.run_key"] for r in done]
    # every run finished exactly once
    assert len(done) == 4 and len(set(keys)) == 4, (rows, _logs(res, "array"))
    killed = next(r for r in rows if r["run_id"] == victim.user_attrs["mlflow_run_id"])
    assert killed["run_status"] == "FAILED" and killed["status"] == "lost"
    retry = next(r for r in done if r["ganbench.run_key"] == victim.user_attrs["run_key"])
    assert retry["resumed_from_run"] == killed["run_id"]
    assert int(retry["resumed_from_step"]) >= 50  # from its checkpoint, not from step 0

    status = subprocess.run([sys.executable, "-m", "ganbench", "status", "array", "--storage",
                             storage, "--results", str(res)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert status.returncode == 0, status.stderr
    assert "4 done" in status.stdout
    for j in jobs:
        assert j in status.stdout
    assert "ENDED" in status.stdout and "RUNNING" not in status.stdout

    # A second submission finds nothing to run and submits nothing.
    proc, out = _submit(tmp_path, spec, res, storage, uri, jobs=2)
    assert "0 to run" in out and "no job submitted" in out, out
    assert _jobs(res, "array") == jobs


def test_preempted_job_is_requeued_and_resumes(tmp_path, sweep_file, servers):
    pg, uri = servers
    storage = pg.url("optuna", driver=None)
    spec = sweep_file(SPEC.format(name="preempt", seeds=1))
    res = tmp_path / "results"
    proc, out = _submit(tmp_path, spec, res, storage, uri, jobs=1)
    try:
        (job,) = _jobs(res, "preempt")
        queue = Queue(storage, "preempt", None)
        client = MlflowClient(uri)
        assert wait_until(lambda: _checkpointed_running(queue, client) is not None,
                          timeout=300, every=0.2), "no run wrote a checkpoint"
        victim = _checkpointed_running(queue, client)
        task = _job_task(int(victim.user_attrs["worker"].split(":")[-1]))
        os.kill(task, signal.SIGUSR2)  # what Slurm sends before preempting or timing out
        assert wait_until(lambda: not _alive(int(job)), timeout=600, every=1), \
            "the job did not end"
    finally:
        _end_group(proc)

    done, rows = _finished(uri, "preempt")
    assert len(done) == 2 and len({r["ganbench.run_key"] for r in done}) == 2, \
        (rows, _logs(res, "preempt"))
    stopped = next(r for r in rows if r["run_id"] == victim.user_attrs["mlflow_run_id"])
    # Put back at once by the job itself (Ctrl-C to its worker), not found lost later.
    assert stopped["run_status"] == "KILLED", stopped
    retry = next(r for r in done if r["ganbench.run_key"] == victim.user_attrs["run_key"])
    assert retry["resumed_from_run"] == stopped["run_id"]
    assert int(retry["resumed_from_step"]) >= 50
    # One job: the same id before and after submitit requeued it (its log, appended to).
    log = (res / "preempt" / "submitit" / f"{job}_0_log.out").read_text()
    assert "returning the runs in flight to the queue" in log
    assert f"Requeued job {job}" in log and log.count("worker job for sweep preempt") == 2
