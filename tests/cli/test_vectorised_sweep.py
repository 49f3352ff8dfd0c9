"""`--vectorise on`: a sweep whose cells train their seeds as one stacked model records the same
runs, with the same results within float32 rounding, as the same sweep trained run by run,
and each stacked seed checkpoints into its own run."""

from __future__ import annotations

import textwrap

import mlflow
import pandas as pd
from helpers.cli import invoke

from ganbench.store.mlflow import default_tracking_uri

SPEC = """
name: stack
base: {dataset: ring8, model: mlp, steps: 40, batch_size: 64, log_every: 20,
       eval_samples: 512}
tricks:
  spectral_norm: [off, on]
  gradient_penalty: [off, on]
seeds: 3
metric: {name: modes, goal: max}
"""


def runs(results) -> pd.DataFrame:
    mlflow.set_tracking_uri(default_tracking_uri(results))
    df = mlflow.search_runs(experiment_names=["stack"],
                            filter_string="tags.`ganbench.role` = 'run'")
    return df.set_index("tags.ganbench.run_key").sort_index()


def test_vectorised_sweep_equals_the_run_by_run_sweep(tmp_path):
    spec = tmp_path / "stack.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    out = {}
    for mode in ("on", "off"):
        res = tmp_path / mode
        r = invoke("sweep", spec, "--results", res, "--workers", "1", "--device", "cpu",
                   "--vectorise", mode, "--checkpoint-every", "20")
        assert r.exit_code == 0, r.output
        out[mode] = runs(res)
    on, off = out["on"], out["off"]
    assert len(on) == 12 and on.index.is_unique and list(on.index) == list(off.index)
    assert (on["status"] == "FINISHED").all() and (off["status"] == "FINISHED").all()
    # every run of the vectorised sweep trained in a stack of its cell's 3 seeds
    assert (on["tags.vectorised_seeds"] == "3").all()
    assert "tags.vectorised_seeds" not in off or off["tags.vectorised_seeds"].isna().all()
    cols = [c for c in on.columns if c.startswith(("metrics.eval/", "metrics.train/"))]
    assert "metrics.eval/modes" in cols and "metrics.train/d/gp" in cols
    pd.testing.assert_frame_equal(on[cols], off[cols], check_exact=False, rtol=1e-3, atol=1e-4)
    # stacked seeds checkpoint like lone runs: each into its own MLflow run (the two newest)
    client = mlflow.MlflowClient(default_tracking_uri(tmp_path / "on"))
    for run_id in on["run_id"]:
        names = [f.path for f in client.list_artifacts(run_id, "checkpoint")]
        assert names == ["checkpoint/step_000000020.pt", "checkpoint/step_000000040.pt"]
