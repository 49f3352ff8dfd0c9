"""A small sweep run in this process (no worker processes), so fault tests can patch the code
at the point they break and compare with an uninterrupted sweep."""

from __future__ import annotations

import hashlib
import math
import tempfile
import textwrap
from pathlib import Path

import pandas as pd
import torch
from mlflow import MlflowClient

from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.runner import Sweep, SweepOptions, prepare, worker_contexts
from ganbench.sweep.worker import work

SPEC = """
name: faults
base: {dataset: ring8, model: mlp, steps: 40, batch_size: 32, log_every: 10, eval_every: 20,
       eval_samples: 256}
tricks:
  spectral_norm: [off, on]
seeds: [0, 1]
metric: {name: modes, goal: max}
"""
EVERY = 10  # checkpoint steps: a resumed run continues from a checkpoint


def write_spec(folder: Path, text: str = SPEC) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "sweep.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def options(res: Path) -> SweepOptions:
    return SweepOptions(results=res, workers=1, device="cpu", checkpoint_every=EVERY)


def start(spec: Path, res: Path) -> Sweep:
    return prepare(spec, options(res))


def drain(sw: Sweep, res: Path) -> int:
    """One worker, in this process, until the queue is empty."""
    return work(worker_contexts(sw, options(res), ["cpu"], threads=1)[0])


def runs(res: Path, name: str = "faults") -> pd.DataFrame:
    """Every child run in the record (all attempts)."""
    client = MlflowClient(default_tracking_uri(res))
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return pd.DataFrame()
    rows = []
    for r in client.search_runs([exp.experiment_id], "tags.`ganbench.role` = 'run'",
                                max_results=1000):
        rows.append({"run_id": r.info.run_id, "status": r.info.status,
                     "key": r.data.tags["ganbench.run_key"], "tags": r.data.tags,
                     **{f"m.{k}": v for k, v in r.data.metrics.items()
                        if k.startswith("eval/") and k.endswith("/final")}})
    return pd.DataFrame(rows)


def weights_digest(res: Path, run_id: str) -> str:
    """sha256 of the saved generator's tensors: equal only for bit-identical training."""
    client = MlflowClient(default_tracking_uri(res))
    with tempfile.TemporaryDirectory() as tmp:
        sd = torch.load(client.download_artifacts(run_id, "generator.pt", tmp),
                        weights_only=True)
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode() + sd[k].cpu().numpy().tobytes())
    return h.hexdigest()


def finished_results(res: Path, name: str = "faults") -> dict[str, dict]:
    """run key -> final metrics and G's weights digest of its FINISHED run; asserts one
    FINISHED run per key."""
    df = runs(res, name)
    fin = df[df["status"] == "FINISHED"]
    assert fin["key"].is_unique, fin["key"].value_counts()
    cols = [c for c in fin.columns if c.startswith("m.")]
    return {r["key"]: {"g": weights_digest(res, r["run_id"]),
                       **{c: "nan" if math.isnan(r[c]) else r[c] for c in cols}}
            for _, r in fin.iterrows()}


def full_sweep(folder: Path, text: str = SPEC) -> dict[str, dict[str, float]]:
    res = folder / "results"
    spec = write_spec(folder, text)
    sw = start(spec, res)
    drain(sw, res)
    return finished_results(res)


def forget_stores() -> None:
    """MLflow caches one store per URI in a process; after deleting the database file a new
    process would open a fresh one, so this one must too."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    type(_tracking_store_registry)._get_store_with_resolved_uri.cache_clear()
    for engine in SqlAlchemyStore._engine_map.values():
        engine.dispose()
    SqlAlchemyStore._engine_map.clear()
