"""The run folder `ganbench run` writes: config.yaml, metrics.json, samples.png, and
samples/step_N.png at (up to 8 of) its evaluations over training."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from ganbench.config import RunConfig
from ganbench.models.conditional import bind_labels, is_conditional
from ganbench.report.samples import save_image_grid, save_scatter, save_snapshots
from ganbench.train import RunResult


def config_dict(cfg: RunConfig) -> dict:
    return json.loads(cfg.model_dump_json())


def _plane(x: torch.Tensor) -> torch.Tensor:
    """1-D points (the Dirac-GAN's) on the x-axis of the 2-D pictures: (N, 1) -> (N, 2)."""
    return torch.cat([x, torch.zeros_like(x)], dim=1) if x.dim() == 2 and x.shape[1] == 1 else x


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
        return save_scatter(_plane(samples), _plane(data.modes), path,
                            f"{data.name}: generated vs modes",
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
    data, snaps = result.dataset, result.snapshots
    if data.kind == "points" and data.modes is not None and data.modes.shape[1] == 1:
        data = replace(data, modes=_plane(data.modes))
        snaps = [(at, _plane(x)) for at, x in snaps]
    save_snapshots(snaps, data, out / "samples")
    return out
