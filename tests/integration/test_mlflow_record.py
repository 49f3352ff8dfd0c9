"""The MLflow record a user compares in one click: per-trick params, `score`, the parent's
description (issue 18)."""

from __future__ import annotations

import json
import math

import mlflow
import pytest
from helpers.procs import ganbench
from mlflow import MlflowClient

from ganbench.store.mlflow import default_tracking_uri, view_url

pytestmark = pytest.mark.slow

TINY = """
name: record
base: {dataset: ring8, model: mlp, steps: 50, batch_size: 32, log_every: 25}
tricks:
  ttur: [off, on]
  r1: [off, {gamma: 5}]
seeds: 1
metric: {name: modes, goal: max}
"""


def test_children_group_by_trick_and_sort_by_score(tmp_path, sweep_file, monkeypatch):
    spec = sweep_file(TINY)
    res = tmp_path / "results"
    monkeypatch.setenv("GANBENCH_SYSTEM_METRICS_SECONDS", "0.1")  # the workers inherit it
    proc = ganbench("sweep", str(spec), "--results", str(res), "--workers", "1",
                    "--device", "cpu", "--system-metrics", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out

    mlflow.set_tracking_uri(default_tracking_uri(res))
    runs = mlflow.search_runs(experiment_names=["record"],
                              filter_string="tags.`ganbench.role` = 'run'")
    assert len(runs) == 4
    assert set(runs["params.trick.ttur"]) == {"off", "on"}
    assert set(runs["params.trick.r1"]) == {"off", "r15"}  # its level label, not "on"
    base = runs[runs["params.trick_list"] == "baseline"]
    assert len(base) == 1
    assert base["params.trick.ttur"].iloc[0] == "off" and base["params.trick.r1"].iloc[0] == "off"
    assert runs.groupby("params.trick.ttur").size().to_dict() == {"off": 2, "on": 2}
    system = [c for c in runs.columns if c.startswith("metrics.system/")]
    assert system and runs[system].notna().any(axis=1).any()  # --system-metrics reached them
    assert "params.name" not in runs.columns or runs["params.name"].isna().all()

    done = runs[runs["status"] == "FINISHED"]
    assert len(done) > 0
    for _, r in done.iterrows():
        final = r["metrics.eval/modes/final"]
        if math.isfinite(final):
            assert r["metrics.score"] == final
        assert r["tags.score_metric"] == "modes" and r["tags.score_goal"] == "max"
    client = MlflowClient(default_tracking_uri(res))
    one = done["run_id"].iloc[0]
    assert len(client.get_metric_history(one, "score")) == 1  # once, not a history
    inputs = client.get_run(one).inputs.dataset_inputs  # the runs table's Dataset column
    assert [i.dataset.name for i in inputs] == ["ring8"]
    digests = {client.get_run(r).inputs.dataset_inputs[0].dataset.digest for r in done["run_id"]}
    assert len(digests) == 1 and len(digests.pop()) == 12  # one dataset, one digest

    # The shared view `ganbench ui` links to: sorted by score, the trick columns shown.
    exp = client.get_experiment(runs["experiment_id"][0])
    view = json.loads(exp.tags["mlflow.sharedViewState.ganbench"])
    assert view["orderByKey"] == "metrics.`score`" and view["orderByAsc"] is False
    assert {"metrics.`score`", "params.`trick.ttur`", "params.`trick.r1`",
            "metrics.`eval/modes/final`"} <= set(view["selectedColumns"])
    assert "viewStateShareKey=ganbench" in view_url("http://h:1", exp.experiment_id)
    parent = client.search_runs([runs["experiment_id"][0]],
                                filter_string="tags.`ganbench.role` = 'sweep'")[0]
    note = parent.data.tags.get("mlflow.note.content", "")
    assert "| rank | cell |" in note and "baseline" in note
    assert parent.data.metrics["runs/total"] == 4
    assert parent.data.metrics["runs/finished"] == len(done)


RESUME = """
name: resume
base: {dataset: ring8, model: mlp, steps: 400, batch_size: 32, log_every: 100}
tricks:
  ttur: [off, on]
seeds: 2
metric: {name: modes, goal: max}
"""


def test_superseded_attempts_are_tagged_and_named(tmp_path, sweep_file):
    import signal

    from helpers.procs import kill_group, wait_until

    from ganbench.sweep.scheduler import Queue

    def finished() -> int:
        try:
            return Queue(str(res / "resume" / "study.journal"), "resume").counts()["finished"]
        except Exception:  # study not created yet
            return 0

    spec = sweep_file(RESUME)
    res = tmp_path / "results"
    first = ganbench("sweep", str(spec), "--results", str(res), "--workers", "1",
                     "--device", "cpu", "--checkpoint-every", "50", cwd=tmp_path)
    assert wait_until(lambda: finished() >= 1, timeout=300), first.stdout
    kill_group(first, signal.SIGINT)
    first.wait(timeout=120)
    second = ganbench("sweep", str(spec), "--results", str(res), "--workers", "1",
                      "--device", "cpu", cwd=tmp_path)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out

    mlflow.set_tracking_uri(default_tracking_uri(res))
    runs = mlflow.search_runs(experiment_names=["resume"],
                              filter_string="tags.`ganbench.role` = 'run'")
    killed = runs[runs["status"] == "KILLED"]
    assert len(killed) >= 1
    assert (killed["tags.superseded"] == "true").all()
    assert killed["tags.mlflow.runName"].str.endswith("(attempt 1, killed)").all()
    fin = runs[runs["status"] == "FINISHED"]
    assert set(killed["tags.superseded_by"]) <= set(fin["run_id"])
    assert "tags.superseded" not in fin or fin["tags.superseded"].isna().all()
