"""Every recorded run carries its effective settings as `resolved.*` params (its tricks'
hooks applied), for the report to name what a trick level changes besides itself."""

from __future__ import annotations

import textwrap

import mlflow
from helpers.cli import invoke, write

from ganbench.store.mlflow import RUN_KEY, default_tracking_uri

SPEC = """
name: resolved
base: {dataset: ring8, model: mlp, lr: 2.0e-3, steps: 4, batch_size: 32, log_every: 2,
       eval_samples: 64}
tricks:
  ttur: [off, on]
seeds: 1
metric: {name: modes, goal: max}
"""


def test_sweep_runs_log_their_resolved_settings(tmp_path):
    from ganbench.specs.load import load_sweep_spec
    from ganbench.specs.plan import plan

    spec = tmp_path / "s.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    res = tmp_path / "res"
    r = invoke("sweep", spec, "--results", res, "--workers", "1", "--device", "cpu")
    assert r.exit_code == 0, r.output
    mlflow.set_tracking_uri(default_tracking_uri(res))
    runs = mlflow.search_runs(experiment_names=["resolved"],
                              filter_string="tags.`ganbench.role` = 'run'")
    by = runs.set_index("params.trick.ttur")
    assert by.loc["off", "params.resolved.lr_d"] == by.loc["off", "params.resolved.lr_g"] == "0.002"
    assert (by.loc["on", "params.resolved.lr_d"], by.loc["on", "params.resolved.lr_g"]) == (
        "0.004", "0.001")
    for name, want in (("batch_size", "32"), ("d_steps_per_g", "1"), ("steps", "4"),
                       ("eval_every", "0"), ("eval_samples", "64")):
        assert set(runs[f"params.resolved.{name}"]) == {want}
    # the params are records, not identity: the run keys are the plan's
    keys = {r.run_key for r in plan(load_sweep_spec(spec)[0]).runs}
    assert set(runs[f"tags.{RUN_KEY}"]) == keys


def test_a_single_run_logs_them_too(tmp_path):
    res = tmp_path / "res"
    run = write(tmp_path / "r.yaml", "dataset: ring8\nsteps: 4\nbatch_size: 32\nlr: 2.0e-3\n"
                "eval_samples: 64\ntricks: {ttur: {ratio: 16}, n_critic: {steps: 2}}\n")
    r = invoke("run", run, "-o", tmp_path / "out", "--device", "cpu", "--results", res)
    assert r.exit_code == 0, r.output
    client = mlflow.MlflowClient(tracking_uri=default_tracking_uri(res))
    (one,) = client.search_runs([client.get_experiment_by_name("runs").experiment_id])
    p = one.data.params
    assert (p["resolved.lr_d"], p["resolved.lr_g"], p["resolved.d_steps_per_g"]) == (
        "0.008", "0.0005", "2")
