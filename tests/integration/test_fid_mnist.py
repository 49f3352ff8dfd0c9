"""A real sweep over MNIST ranked by FID: workers, torch-fidelity, MLflow record, summary."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from helpers.procs import ganbench

from ganbench.config import default_data_root
from ganbench.data import DATASETS, DataUnavailableError
from ganbench.metrics.inception_weights import converted_weights
from ganbench.store.mlflow import default_tracking_uri

pytestmark = pytest.mark.slow

# Tiny counts: on 2 CPU cores Inception runs at ~7 images/s and each FID's eigvals ~10 s.
FID_SWEEP = """
name: fid-rank
base: {dataset: mnist, model: dcgan28, steps: 3, batch_size: 16, log_every: 1,
       image_metrics: [fid], fid_samples: 12, fid_real_samples: 12, fid_batch_size: 12}
tricks:
  spectral_norm: [off, on]
seeds: 1
metric: {name: fid12, goal: min}
"""


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh data root (its own FID cache) sharing the cached MNIST and weights."""
    real = default_data_root()
    try:
        DATASETS.get("mnist")(real)
        converted_weights(real)
    except DataUnavailableError as e:
        pytest.skip(f"MNIST or Inception weights unavailable: {e}")
    root = tmp_path / "data"
    root.mkdir()
    for sub in ("wheels", "cache", "weights", "MNIST"):
        if (real / sub).exists():
            (root / sub).symlink_to(real / sub)
    monkeypatch.setenv("GANBENCH_DATA", str(root))
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    return root


def test_mnist_sweep_is_ranked_by_fid(tmp_path, sweep_file, data_root):
    res = tmp_path / "results"
    proc = ganbench("sweep", str(sweep_file(FID_SWEEP)), "--results", str(res), "--workers", "2",
                    "--device", "cpu", cwd=tmp_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out

    mlflow.set_tracking_uri(default_tracking_uri(res))
    runs = mlflow.search_runs(experiment_names=["fid-rank"],
                              filter_string="tags.`ganbench.role` = 'run'")
    assert len(runs) == 2 and (runs["tags.status"] == "finished").all()
    fids = runs["metrics.eval/fid12"]
    assert fids.notna().all() and (fids > 0).all()
    assert (runs["metrics.eval/fid12/final"] == fids).all()
    assert runs["metrics.eval/fid12/best"].notna().all()
    # One protocol for both runs: comparable, so rankable together.
    proto = runs["tags.protocol.fid12"]
    assert proto.nunique() == 1 and "gen=12;real=12;ref=mnist/train[12/" in proto.iloc[0]
    # Two workers evaluated at about the same time; the reference statistics were computed
    # once (the other waited on the lock, then read the cache under the data root).
    assert sorted(runs["tags.fidelity.reference"]) == ["cached", "computed"]
    assert len(list((data_root / "fidelity-cache").glob("*stat-fid-2048.pt"))) == 1

    summary = pd.read_csv(res / "fid-rank" / "summary.csv")
    by_cell = dict(zip(runs["tags.ganbench.cell"], fids, strict=True))
    ranked = summary.sort_values("rank")
    assert list(ranked["cell"]) == sorted(by_cell, key=by_cell.get)  # lower FID ranks first
    # One seed per cell gives no interval, so no rank is claimed (report/stats.py).
    assert ranked["rank"].isna().all()
