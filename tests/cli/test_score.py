"""`ganbench score`: a saved generator (run folder, checkpoint or MLflow run id) scored again
and logged to its run, with only evaluation fields allowed to change."""

from __future__ import annotations

import json
import math

import mlflow
import pytest
import torch
from helpers.cli import invoke, write

from ganbench.config import RunConfig
from ganbench.scoring import MLFLOW_RUN_FILE, locate, score, with_overrides
from ganbench.store.mlflow import default_tracking_uri
from ganbench.train import train
from ganbench.train.checkpoint import FileCheckpointer

RUN = "dataset: ring8\nsteps: 400\nbatch_size: 32\nlog_every: 20\neval_samples: 300\n" \
      "tricks: [ema]\n"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("score")
    res = tmp / "res"
    r = invoke("run", write(tmp / "r.yaml", RUN), "-o", tmp / "out", "--device", "cpu",
               "--results", res)
    assert r.exit_code == 0, r.output
    return tmp / "out", res


def _final(folder):
    return json.loads((folder / "metrics.json").read_text())["metrics"]


def test_folder_rescored_equals_its_own_final_metrics(run_folder):
    folder, _ = run_folder
    got = score(locate(str(folder), None), {})
    want = _final(folder)
    assert set(got.metrics) == set(want)
    for k, v in want.items():  # the same generator, config and evaluation stream
        if v is None:  # metrics.json writes a non-finite value as null
            assert not math.isfinite(got.metrics[k]), k
        else:
            assert got.metrics[k] == pytest.approx(v, abs=1e-6), k


def test_rescored_values_are_logged_to_the_run(run_folder):
    folder, res = run_folder
    link = json.loads((folder / MLFLOW_RUN_FILE).read_text())
    r = invoke("score", folder, "--eval-samples", "900", "--results", res)
    assert r.exit_code == 0, r.output
    client = mlflow.MlflowClient(tracking_uri=default_tracking_uri(res))
    run = client.get_run(link["run_id"])
    want = score(locate(str(folder), None), {"eval_samples": 900}).metrics
    assert run.data.metrics["scored/modes"] == pytest.approx(want["modes"])
    assert run.data.metrics["scored/hq"] == pytest.approx(want["hq"])
    # The run's own final values are untouched by the rescoring.
    assert run.data.metrics["eval/modes/final"] == pytest.approx(_final(folder)["modes"])


def test_by_mlflow_run_id_and_metric_filter(run_folder):
    folder, res = run_folder
    run_id = json.loads((folder / MLFLOW_RUN_FILE).read_text())["run_id"]
    r = invoke("score", run_id, "--metrics", "modes", "--results", res, "--no-mlflow")
    assert r.exit_code == 0, r.output
    assert "modes" in r.output and "reverse_kl" not in r.output
    bad = invoke("score", run_id, "--metrics", "fid", "--results", res, "--no-mlflow")
    assert bad.exit_code == 2 and "not a 2-D metric" in bad.output


def test_checkpoint_scores_the_eval_generator(tmp_path):
    cfg = RunConfig(steps=40, batch_size=32, log_every=20, eval_samples=300, device="cpu",
                    tricks={"ema": {}})
    ckpt = tmp_path / "run.ckpt"
    result = train(cfg, checkpoints=FileCheckpointer(ckpt, every=20))
    got = score(locate(str(ckpt), None), {})
    # The checkpoint of the last window holds G and EMA's average: scoring it gives the run's
    # own final evaluation, which EMA's average (not the raw G) produced.
    assert got.metrics.keys() == result.metrics.keys()
    for k, v in result.metrics.items():
        assert got.metrics[k] == pytest.approx(v, abs=1e-6, nan_ok=True), k


def test_only_evaluation_fields_may_change():
    cfg = RunConfig()
    assert with_overrides(cfg, {"eval_samples": 10}).eval_samples == 10
    with pytest.raises(ValueError, match="cannot change lr"):
        with_overrides(cfg, {"lr": 0.1})
    assert {"image_metrics", "fid_samples", "eval_samples"} <= RunConfig.evaluation_fields()
    assert not RunConfig.evaluation_fields() & {"steps", "lr", "tricks", "model", "seed"}


def test_bad_sources_are_one_line_errors(tmp_path, run_folder):
    folder, res = run_folder
    r = invoke("score", tmp_path / "nope")
    assert r.exit_code == 2 and "no such run folder" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = invoke("score", empty)
    assert r.exit_code == 2 and "no config.yaml or generator.pt" in r.output
    r = invoke("score", "0" * 32, "--results", tmp_path / "nostore")
    assert r.exit_code == 2 and "no MLflow store" in r.output
    r = invoke("score", "0" * 32, "--results", res)
    assert r.exit_code == 2 and "no run" in r.output
    r = invoke("score", folder, "--set", "lr=0.1", "--no-mlflow")
    assert r.exit_code == 2 and "cannot change lr" in r.output
    # A pickle payload in generator.pt never runs: weights_only refuses it.
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "config.yaml").write_text((folder / "config.yaml").read_text())

    class Boom:
        def __reduce__(self):
            return (exec, (f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')",))

    torch.save({"w": Boom()}, evil / "generator.pt")
    r = invoke("score", evil, "--no-mlflow")
    assert r.exit_code == 2 and "weights_only" in r.output
    assert not (tmp_path / "ran").exists()


@pytest.mark.slow
def test_image_generator_scored_by_fid_with_its_protocol(tmp_path, monkeypatch):
    from ganbench.config import default_data_root
    from ganbench.data import DATASETS, DataUnavailableError
    from ganbench.metrics.inception_weights import converted_weights

    try:
        DATASETS.get("mnist")(default_data_root())
        converted_weights(default_data_root())
    except DataUnavailableError as e:
        pytest.skip(f"MNIST or Inception weights unavailable: {e}")
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    res = tmp_path / "res"
    run = write(tmp_path / "m.yaml", "dataset: mnist\nmodel: dcgan28\nsteps: 3\n"
                "batch_size: 16\nlog_every: 1\n")
    r = invoke("run", run, "-o", tmp_path / "out", "--device", "cpu", "--results", res)
    assert r.exit_code == 0, r.output
    r = invoke("score", tmp_path / "out", "--metrics", "fid", "--fid-samples", "12",
               "--fid-real-samples", "12", "--set", "fid_batch_size=12", "--results", res)
    assert r.exit_code == 0, r.output
    run_id = json.loads((tmp_path / "out" / MLFLOW_RUN_FILE).read_text())["run_id"]
    got = mlflow.MlflowClient(tracking_uri=default_tracking_uri(res)).get_run(run_id).data
    assert math.isfinite(got.metrics["scored/fid12"])
    protocol = got.tags["protocol.scored/fid12"]
    assert "12" in protocol  # the sample counts it was scored under are recorded
    assert not any(k.startswith("protocol.fid") for k in got.tags)  # trained without FID


def test_load_generator_gives_the_runs_generator(run_folder):
    import ganbench

    folder, res = run_folder
    g, cfg = ganbench.load_generator(folder)
    z = torch.randn(5, cfg.z_dim)
    want = torch.load(folder / "generator.pt", weights_only=True)
    assert all(torch.equal(v, want[k]) for k, v in g.state_dict().items())
    assert g(z).shape == (5, 2)
    run_id = json.loads((folder / MLFLOW_RUN_FILE).read_text())["run_id"]
    g2, _ = ganbench.load_generator(run_id, default_tracking_uri(res))
    assert torch.equal(g2(z), g(z))  # the same weights through the MLflow run


def test_repeats_print_each_metrics_mean_and_sd_over_the_draws(tmp_path):
    # Its own small run: the module's EMA generator has no high-quality sample yet, so every
    # draw would agree; 100 plain steps put a few samples on the modes.
    res, folder = tmp_path / "res", tmp_path / "out"
    text = "dataset: ring8\nsteps: 100\nbatch_size: 32\nlog_every: 50\neval_samples: 3000\n"
    r = invoke("run", write(tmp_path / "r.yaml", text), "-o", folder, "--device", "cpu",
               "--results", res)
    assert r.exit_code == 0, r.output
    r = invoke("score", folder, "--repeats", "3", "--no-mlflow", "--results", res)
    assert r.exit_code == 0, r.output
    assert "mean over 3 draws" in r.output and "sd over 3 draws" in r.output
    got = score(locate(str(folder), None), {"eval_repeats": 3})
    assert len(got.draws) == 3
    assert got.metrics["hq_eval_sd"] > 0  # fresh latent samples per draw: a spread
    assert len({d["hq"] for d in got.draws}) == 3
    row = next(line for line in r.output.splitlines() if line.split()[:1] == ["hq"])
    assert f"{got.metrics['hq_eval_sd']:.5g}" in row
    assert f"{got.metrics['hq_eval_mean']:.5g}" in row
    # the first draw is the run's own evaluation, the value one draw gives
    assert got.metrics["hq"] == score(locate(str(folder), None), {}).metrics["hq"]
