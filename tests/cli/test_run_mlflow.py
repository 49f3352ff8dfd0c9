"""`ganbench run` records into the MLflow store like a sweep's child: params, loss history,
final metrics and the generator's weights; --no-mlflow records nothing."""

from __future__ import annotations

import mlflow
import torch
from helpers.cli import invoke, write

from ganbench.store.mlflow import default_tracking_uri

RUN = "dataset: ring8\nsteps: 120\nbatch_size: 32\nlog_every: 20\neval_samples: 200\n" \
      "tricks: [ttur]\n"


def test_run_is_recorded_with_history_and_weights(tmp_path):
    res = tmp_path / "res"
    r = invoke("run", write(tmp_path / "r.yaml", RUN), "-o", tmp_path / "out", "--device",
               "cpu", "--results", res)
    assert r.exit_code == 0, r.output
    uri = default_tracking_uri(res)
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("runs")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_id in r.output
    assert run.data.params["dataset"] == "ring8" and run.data.params["steps"] == "120"
    assert any(k.startswith("tricks") and "ttur" in k for k in run.data.params)
    history = client.get_metric_history(run.info.run_id, "train/d/adv")
    assert len(history) >= 5  # the loss every 20 steps, not one point
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"generator.pt", "config.yaml", "metrics.json", "samples.png"} <= arts
    (inp,) = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert inp.dataset.name == "ring8" and inp.dataset.source_type == "ganbench"
    assert '"kind": "points"' in inp.dataset.profile
    local = client.download_artifacts(run.info.run_id, "generator.pt", str(tmp_path / "dl"))
    state = torch.load(local, weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())


def test_no_mlflow_records_nothing(tmp_path):
    res = tmp_path / "res"
    r = invoke("run", write(tmp_path / "r.yaml", RUN), "-o", tmp_path / "out", "--device",
               "cpu", "--results", res, "--no-mlflow")
    assert r.exit_code == 0, r.output
    assert not (res / "mlflow.db").exists()
    assert (tmp_path / "out" / "generator.pt").is_file()


def test_system_metrics_are_logged_when_asked(tmp_path, monkeypatch):
    import ganbench.store.mlflow as tm

    monkeypatch.setattr(tm, "SYSTEM_METRICS_SECONDS", 0.2)
    res = tmp_path / "res"
    long_run = RUN.replace("steps: 120", "steps: 3000")
    r = invoke("run", write(tmp_path / "r.yaml", long_run), "-o", tmp_path / "out", "--device",
               "cpu", "--results", res, "--system-metrics")
    assert r.exit_code == 0, r.output
    client = mlflow.MlflowClient(tracking_uri=default_tracking_uri(res))
    (run,) = client.search_runs([client.get_experiment_by_name("runs").experiment_id])
    assert any(k.startswith("system/cpu") for k in run.data.metrics), sorted(run.data.metrics)


def test_system_metrics_without_psutil_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psutil" else real(name, *a))
    r = invoke("run", write(tmp_path / "r.yaml", RUN), "--results", tmp_path / "res",
               "--system-metrics")
    assert r.exit_code == 2 and "needs psutil" in r.output
