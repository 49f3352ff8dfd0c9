"""The run folder `ganbench run` writes: config.yaml, metrics.json, samples.png, and
samples/step_N.png at (up to 8 of) its evaluations over training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import yaml

from ganbench.config import RunConfig
from ganbench.models.conditional import bind_labels, is_conditional
from ganbench.report.samples import save_image_grid, save_scatter, save_snapshots
from ganbench.train import RunResult


def config_dict(cfg: RunConfig) -> dict:
    return json.loads(cfg.model_dump_json())


def _finite_or_none(v: float) -> float | None:
    return v if isinstance(v, int) or math.isfinite(v) else None


@torch.no_grad()
def save_samples(result: RunResult, path: Path, n_points: int = 2500, n_images: int = 64) -> Path:
    """A scatter against the true modes for 2-D data, else an 8x8 image grid (a
    class-conditional G: one row per class, for up to 8 classes spread over its range)."""
    data = result.dataset
    n = n_points if data.kind == "points" else n_images
    z = torch.randn(n, result.cfg.z_dim, device=result.device)
    k = getattr(result.g, "n_classes", 0) if is_conditional(result.g) else 0
    if k and data.kind == "images":
        rows = torch.linspace(0, k - 1, min(k, 8), device=z.device).round().long()
        y = rows.repeat_interleave(8)
        with bind_labels([result.g], y):
            return save_image_grid(result.g(z[:len(y)]), path)
    samples = result.g(z)
    if data.kind == "points":
        return save_scatter(samples, data.modes, path, f"{data.name}: generated vs modes",
                            data.mode_std)
    return save_image_grid(samples, path)


def write_run_folder(cfg: RunConfig, result: RunResult, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config_dict(cfg), sort_keys=False))
    summary = {
        "status": result.status,
        "steps_done": result.steps_done,
        "seconds": round(result.seconds, 3),
        "device": result.device,
        "data_source": result.dataset.source,
        "metrics": {k: _finite_or_none(v) for k, v in result.metrics.items()},
        "caveats": [str(c) for c in result.caveats],
    }
    if result.diverged:
        summary.update(diverged_step=result.diverged_step, diverged_term=result.diverged_term)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    save_samples(result, out / "samples.png")
    save_snapshots(result.snapshots, result.dataset, out / "samples")
    return out
