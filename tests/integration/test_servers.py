"""The shared storage of multi-machine sweeps, on real servers: Optuna's RDB storage on a
PostgreSQL cluster as the work queue, and an `mlflow server` (PostgreSQL backend store,
proxied artifacts) as the record. Skips only when PostgreSQL cannot be installed here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from helpers.procs import wait_until
from helpers.servers import (
    MLflowServer,
    PostgresCluster,
    PostgresUnavailable,
    ServerError,
    ensure_postgres,
)

from ganbench.store.mlflow import MLflowStore
from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg():
    try:
        ensure_postgres()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def mlflow_server(pg):
    with MLflowServer(pg.create_database("mlflow")) as server:
        tmp, port, pgid = server.tmp, server.port, server.proc.pid
        yield server
    # nothing of it is left: files, port, process group (uvicorn's workers included)
    assert not tmp.exists() and refused(port)
    assert wait_until(lambda: group_gone(pgid), timeout=15, every=0.2)


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# ------------------------------------------------------------------------------ the queue

CLAIMER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from ganbench.sweep.scheduler import Queue
    url, study, folder, me = sys.argv[1:5]
    q = Queue(url, study)                      # all three open the study at once, too
    (Path(folder) / f"ready-{me}").touch()
    while not (Path(folder) / "go").exists():  # start claiming together
        time.sleep(0.01)
    got = []
    while (job := q.claim()) is not None:
        got.append([job.trial_id, job.attrs["run_key"]])
        time.sleep(0.02)                       # a little "training", so claims interleave
        q.complete(job.trial_id, float(job.number), {})
    print(json.dumps(got))
""")



def test_three_processes_claim_each_queued_run_exactly_once(pg, tmp_path):
    url = pg.create_database("queue")
    runs = [{"run_key": f"k{i:02d}", "cell": "c", "config": "{}"} for i in range(20)]
    report = Queue(url, "sweep").sync(runs)
    assert (report.added, report.waiting) == (20, 20)

    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, url, "sweep", str(tmp_path),
                               str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    ready = lambda: len(list(tmp_path.glob("ready-*"))) == 3 or any(p.poll() for p in procs)
    assert wait_until(ready, timeout=120, every=0.05)
    (tmp_path / "go").touch()
    claims = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        claims.append(json.loads(out.strip().splitlines()[-1]))

    keys = [k for got in claims for _, k in got]
    ids = [t for got in claims for t, _ in got]
    assert sorted(keys) == sorted(r["run_key"] for r in runs)  # every run, none twice
    assert len(set(ids)) == len(ids) == 20
    assert sum(1 for got in claims if got) >= 2, claims  # the claims really were concurrent
    q = Queue(url, "sweep")
    assert q.counts() == {"queued": 0, "running": 0, "finished": 20, "diverged": 0, "failed": 0}
    workers = {t.user_attrs["worker"] for t in q.trials()}
    assert len(workers) == sum(1 for got in claims if got)  # each claim names its process
    assert q.claim() is None


# ------------------------------------------------------------------------------ the record


def test_mlflow_store_through_the_server(mlflow_server, tmp_path):
    store = MLflowStore(mlflow_server.uri)
    exp = store.experiment("servers-check")
    assert store.client.get_experiment(exp).artifact_location.startswith("mlflow-artifacts:")
    parent = store.parent_run(exp, "servers-check")
    tracker = store.start_child(exp, parent, "sn · s0", {"ganbench.run_key": "k0"})
    tracker.log_params({"loss": "ns", "tricks": {"spectral_norm": {"n": 1}}, "seed": 0})
    for step in (0, 50, 100):
        tracker.log_metrics({"train/d/loss": 1.0 / (step + 1), "eval/modes": step / 12.5}, step)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"status": "finished", "modes": 8}))
    (folder / "samples.png").write_bytes(b"\x89PNG fake")
    tracker.log_artifacts(folder)
    tracker.finish("FINISHED")
    assert store.find_parent(exp) == parent

    runs = store.runs_frame(exp)
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["run_id"] == tracker.run_id and row["mlflow_status"] == "FINISHED"
    assert row["params.loss"] == "ns" and row["params.tricks.spectral_norm.n"] == "1"
    assert row["tags.ganbench.run_key"] == "k0" and row["tags.mlflow.parentRunId"] == parent
    assert row["metrics.eval/modes"] == 8.0
    assert store.metric_history(tracker.run_id, "eval/modes") == [(0, 0.0), (50, 4.0),
                                                                  (100, 8.0)]

    got = store.download_artifact(tracker.run_id, "metrics.json", tmp_path / "dl")
    assert json.loads(got.read_text()) == {"status": "finished", "modes": 8}
    assert store.download_artifact(tracker.run_id, "nothing.txt", tmp_path / "dl") is None
    # the server, not the client, wrote the files: under its --artifacts-destination
    on_disk = {p.name: p for p in mlflow_server.artifacts_dir.rglob("*") if p.is_file()}
    assert set(on_disk) == {"metrics.json", "samples.png"}
    assert tracker.run_id in str(on_disk["metrics.json"])
    assert on_disk["samples.png"].read_bytes() == b"\x89PNG fake"


# ------------------------------------------------------------------------------ clean-up


def test_cluster_is_stopped_and_removed_when_the_body_fails(pg):
    with pytest.raises(RuntimeError, match="boom"):
        with PostgresCluster() as other:
            tmp, port = other.tmp, other.port
            assert not refused(port)
            raise RuntimeError("boom")
    assert not tmp.exists()
    assert refused(port)


def test_mlflow_server_startup_failure_shows_its_log(tmp_path):
    bad = MLflowServer(f"sqlite:///{tmp_path / 'mlflow.db'}",
                       extra_args=("--no-such-flag",), timeout=60)
    with pytest.raises(ServerError, match="no-such-flag"):
        bad.start()
    assert bad.tmp is None and bad.proc is None  # its temp dir is gone already
