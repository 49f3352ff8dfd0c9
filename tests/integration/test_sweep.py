"""End-to-end sweeps with real workers, a real Optuna journal and a real MLflow store."""

from __future__ import annotations

import signal

import mlflow
import pandas as pd
import pytest
from helpers.procs import ganbench, kill_group, wait_until
from mlflow import MlflowClient

from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow

DIVERGING = """
name: diverge
base: {dataset: ring8, model: mlp, loss: lsgan, steps: 60, batch_size: 32, log_every: 20}
tricks:
  spectral_norm: [off, on]
axes:
  lr: [1.0e-3, 1.0e6]      # lsgan at lr 1e6 overflows at once: a real divergence
seeds: 2
metric: {name: modes, goal: max}
"""


def child_runs(results, name: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(default_tracking_uri(results))
    return mlflow.search_runs(experiment_names=[name],
                              filter_string="tags.`ganbench.role` = 'run'")


def test_two_workers_record_every_run_and_divergence(tmp_path, sweep_file):
    spec = sweep_file(DIVERGING)
    res = tmp_path / "results"
    proc = ganbench("sweep", str(spec), "--results", str(res), "--workers", "2",
                    "--device", "cpu", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert "8 runs" in out and "ranked summary" in out

    runs = child_runs(res, "diverge")
    assert len(runs) == 8  # no run lost, none duplicated, despite two writers on one SQLite
    assert runs["tags.ganbench.run_key"].is_unique
    parent = MlflowClient(default_tracking_uri(res)).search_runs(
        [runs["experiment_id"][0]], filter_string="tags.`ganbench.role` = 'sweep'")
    assert len(parent) == 1
    assert set(runs["tags.mlflow.parentRunId"]) == {parent[0].info.run_id}

    huge = runs["params.lr"].astype(float) > 1
    assert (runs.loc[huge, "status"] == "FAILED").all()
    assert (runs.loc[huge, "tags.status"] == "diverged").all()
    assert runs.loc[huge, "tags.diverged_step"].notna().all()
    assert (runs.loc[~huge, "status"] == "FINISHED").all()
    assert (runs.loc[~huge, "tags.status"] == "finished").all()
    # params, tags and metrics a person compares in the UI
    for col in ("params.seed", "params.loss", "params.trick_list",
                "params.tricks.spectral_norm.n_power_iterations",
                "tags.ganbench.cell_id", "tags.git_commit", "tags.ganbench_version",
                "tags.data_source", "tags.device", "metrics.train/d/adv", "metrics.train/g/adv",
                "metrics.eval/modes", "metrics.perf/steps_per_s"):
        assert col in runs.columns, col
    assert set(runs["tags.mlflow.runName"]) >= {"baseline · lr=0.001 · s0", "sn · lr=1e+06 · s1"}
    client = MlflowClient(default_tracking_uri(res))
    one = runs.loc[~huge, "run_id"].iloc[0]
    names = {a.path for a in client.list_artifacts(one)}
    assert {"config.yaml", "metrics.json", "samples.png", "generator.pt"} <= names

    summary = pd.read_csv(res / "diverge" / "summary.csv")
    ranked = summary[summary["rank"].notna()]
    assert set(ranked["cell"]) == {"baseline · lr=0.001", "sn · lr=0.001"}
    unranked = summary[summary["rank"].isna()]
    assert (unranked["n_diverged"] == 2).all() and (unranked["n_finished"] == 0).all()
    report = (res / "diverge" / "report.md").read_text()
    assert report.count("|") > 20 and "diverged" in report

    # rerunning a finished sweep trains nothing
    again = ganbench("sweep", str(spec), "--results", str(res), cwd=tmp_path)
    out2, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out2
    assert "8 runs already have results, 0 to run" in out2
    assert len(child_runs(res, "diverge")) == 8


RESUME = """
name: resume
base: {dataset: ring8, model: mlp, loss: ns, steps: 400, batch_size: 64, log_every: 50}
tricks:
  spectral_norm: [off, on]
  label_smoothing: [off, on]
seeds: 2
metric: {name: modes, goal: max}
"""


def _finished(res) -> int:
    try:
        return Queue(str(res / "resume" / "study.journal"), "resume").counts()["finished"]
    except Exception:  # study not created yet
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_interrupted_sweep_resumes_without_duplicates(tmp_path, sweep_file, sig):
    spec = sweep_file(RESUME)
    res = tmp_path / "results"
    first = ganbench("sweep", str(spec), "--results", str(res), "--workers", "2",
                     "--device", "cpu", cwd=tmp_path)
    assert wait_until(lambda: _finished(res) >= 2, timeout=300), first.stdout
    kill_group(first, sig)
    first.wait(timeout=120)
    if sig == signal.SIGINT:
        assert first.returncode == 130
    done_before = _finished(res)
    assert 2 <= done_before < 8

    second = ganbench("sweep", str(spec), "--results", str(res), "--workers", "2",
                      "--device", "cpu", cwd=tmp_path)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    assert f"{done_before} runs already have results" in out

    runs = child_runs(res, "resume")
    fin = runs[runs["status"] == "FINISHED"]
    assert len(fin) == 8 and fin["tags.ganbench.run_key"].is_unique
    # the interrupted attempts are on record, closed as killed, not left running
    others = runs[runs["status"] != "FINISHED"]
    assert len(others) >= 1
    assert set(others["status"]) == {"KILLED"}
    assert set(others["tags.status"]) == {"killed"}
    assert set(others["tags.ganbench.run_key"]) <= set(fin["tags.ganbench.run_key"])
