"""`ganbench report` against a real MLflow store: a sweep recorded without training (fast),
and, marked slow, a real sweep that ends with its report."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest
import torch
import yaml
from helpers.procs import ganbench
from mlflow import MlflowClient
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.report.samples import save_scatter
from ganbench.store.mlflow import MLflowStore, default_tracking_uri

runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"})
CELLS = {"baseline": {}, "sn": {"spectral_norm": {"n_power_iterations": 1}},
         "ttur": {"ttur": {"d_lr": 4e-4, "g_lr": 1e-4}},
         "sn+ttur": {"spectral_norm": {"n_power_iterations": 1},
                     "ttur": {"d_lr": 4e-4, "g_lr": 1e-4}}}
MODES = {"baseline": 4, "sn": 6, "ttur": 5, "sn+ttur": 7}


def record(results, name: str, tmp, cells=CELLS, seeds=(0, 1, 2), stray: bool = True) -> str:
    """A sweep as `ganbench sweep` records it: parent with spec.yaml and plan.json, one child
    run per (cell, seed) with params, tags, an eval history and samples.png."""
    store = MLflowStore(default_tracking_uri(results))
    exp = store.experiment(name, results / "mlartifacts")
    parent = store.parent_run(exp, name)
    spec = {"name": name, "design": "full", "seeds": len(seeds),
            "tricks": {"spectral_norm": ["off", "on"], "ttur": ["off", "on"]},
            "metric": {"name": "modes", "goal": "max"}}
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    plan = [{"run_key": f"{c}/{s}", "cell": c, "seed": s} for c in cells for s in seeds]
    (tmp / "plan.json").write_text(json.dumps(plan))
    parent_tracker = store.tracker(parent)
    parent_tracker.log_artifact(tmp / "spec.yaml")
    parent_tracker.log_artifact(tmp / "plan.json")
    png = save_scatter(torch.randn(100, 2), torch.eye(2), tmp / "samples.png")
    extra = [("ls", {"label_smoothing": {"real": 0.9}}, 0)] if stray else []
    for cell, tricks, seed in [(c, t, s) for c, t in cells.items() for s in seeds] + extra:
        tr = store.start_child(exp, parent, f"{cell} · s{seed}",
                               {"ganbench.run_key": f"{cell}/{seed}", "ganbench.cell": cell,
                                "ganbench.cell_id": cell})
        tr.log_params({"seed": seed, "dataset": "ring8", "loss": "ns", "tricks": tricks,
                       "trick_list": cell})
        diverged = cell == "ttur" and seed == 2
        for step in (100, 200):
            tr.log_metrics({"eval/modes": MODES.get(cell, 0) - (200 - step) / 100 + seed / 10,
                            "train/g/adv": 1.0}, step)
        tr.set_tags({"status": "diverged" if diverged else "finished"})
        tr.log_artifact(png)
        if cell == "baseline":  # pictures over training for one cell only
            for step in (100, 200):
                tr.client.log_artifact(tr.run_id, str(png), "samples")
                tr.client.log_artifact(tr.run_id, str(_renamed(png, step)), "samples")
        tr.finish("FAILED" if diverged else "FINISHED")
    tr.flush()
    return parent


def _renamed(png, step):
    out = png.parent / f"step_{step:06d}.png"
    out.write_bytes(png.read_bytes())
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    results = root / "results"
    parent = record(results, "synth", root)
    store = MLflowStore(default_tracking_uri(results))
    store.parent_run(store.experiment("empty", results / "mlartifacts"), "empty")
    return results, parent


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_report_is_rebuilt_from_the_store_and_attached_to_the_parent(recorded):
    results, parent = recorded
    res = invoke("report", "synth", "--results", results)
    assert res.exit_code == 0, res.output
    assert "ranked summary" in res.output and "sn+ttur" in res.output
    folder = results / "synth"
    md = (folder / "report.md").read_text()
    assert "## Factorial analysis" in md and "## Ablation: baseline + X" in md
    assert "eval_every" not in md  # the metric has a history: curves show it
    assert "1 run(s) of cells no longer in the sweep file are left out" in md
    csv = pd.read_csv(folder / "runs.csv")
    assert len(csv) == 12 and "ls" not in set(csv["cell"])
    assert csv.loc[csv["run_id"].notna() & (csv["cell"] == "ttur"), "status"].tolist().count(
        "diverged") == 1
    attached = {a.path for a in MlflowClient(default_tracking_uri(results)).list_artifacts(
        parent, "report")}
    assert {"report/report.md", "report/report.tex", "report/runs.csv", "report/curves.png",
            "report/samples.png", "report/samples-over-training.png"} <= attached
    # A strip for the one cell with pictures over training; samples/samples.png is no step.
    assert "Samples over training" in md


def test_report_accepts_the_sweep_file(recorded, tmp_path):
    results, _ = recorded
    spec = tmp_path / "mine.yaml"
    spec.write_text(textwrap.dedent("""
        name: synth
        base: {dataset: ring8}
        tricks: {spectral_norm: [off, on]}
    """))
    res = invoke("report", spec, "--results", results, "--no-attach")
    assert res.exit_code == 0, res.output
    assert (results / "synth" / "report.tex").is_file()


def _user_error(res, *needles):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.stderr.strip().startswith("error:")
    for n in needles:
        assert n in res.stderr, res.stderr


def test_unknown_sweep_is_a_user_error_naming_the_known_ones(recorded):
    results, _ = recorded
    _user_error(invoke("report", "nope", "--results", results), "no sweep named 'nope'",
                "synth")


def test_sweep_without_runs_is_a_user_error(recorded):
    results, _ = recorded
    _user_error(invoke("report", "empty", "--results", results), "has no runs")


def test_missing_store_or_sweep_file_is_a_user_error(tmp_path):
    _user_error(invoke("report", "synth", "--results", tmp_path), "no MLflow store")
    _user_error(invoke("report", tmp_path / "gone.yaml"), "no such sweep file")


SMALL = """
name: small
base: {dataset: ring8, model: mlp, loss: ns, steps: 60, batch_size: 64, log_every: 20,
       eval_every: 20}
tricks:
  spectral_norm: [off, on]
seeds: 2
metric: {name: modes, goal: max}
"""


@pytest.mark.slow
def test_sweep_ends_with_its_report(tmp_path, sweep_file):
    spec = sweep_file(SMALL)
    res = tmp_path / "results"
    proc = ganbench("sweep", str(spec), "--results", str(res), "--device", "cpu", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert "ranked summary" in out and "report.md" in out
    md = (res / "small" / "report.md").read_text()
    assert "## Factorial analysis" in md and "eval_every" not in md
    assert "Produced by: `ganbench sweep" in md and "ganbench report small" in md
    assert (res / "small" / "curves.png").stat().st_size > 10_000
    assert (res / "small" / "samples-over-training.png").stat().st_size > 10_000


def test_an_undefined_final_is_not_replaced_by_an_earlier_value_in_mlflow(tmp_path):
    # MLflow does not store NaN: an undefined final reverse KL leaves no `/final` value, and
    # the run's latest `eval/reverse_kl` is an earlier step's. The report must not use it.
    from ganbench.report.frame import tidy_runs

    results = tmp_path / "results"
    store = MLflowStore(default_tracking_uri(results))
    exp = store.experiment("undef", results / "mlartifacts")
    parent = store.parent_run(exp, "undef")
    tr = store.start_child(exp, parent, "a · s0", {"ganbench.run_key": "a/0",
                                                    "ganbench.cell": "a"})
    tr.log_params({"seed": 0, "dataset": "ring8", "tricks": {}})
    tr.log_metrics({"eval/reverse_kl": 0.7, "eval/modes": 3}, 100)
    tr.log_metrics({"eval/reverse_kl": float("nan"), "eval/modes": 0}, 200)
    tr.log_metrics({"eval/reverse_kl/final": float("nan"), "eval/modes/final": 0}, 200)
    tr.set_tags({"status": "finished", "undefined_final": "reverse_kl"})
    tr.finish("FINISHED")
    tr.flush()
    runs = store.runs_frame(exp)
    assert runs["metrics.eval/reverse_kl"].iloc[0] == 0.7  # what a fallback would have used
    t = tidy_runs(runs, "reverse_kl")
    assert t["value"].isna().all() and t["undefined"].all()
