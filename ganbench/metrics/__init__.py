"""Evaluation metrics: exact mode metrics for 2-D mixtures (modes, modes_hq, hq, reverse_kl);
FID, KID, IS and precision/recall for images (computed by torch-fidelity in
metrics/fidelity.py; names here need no torch-fidelity).

Image metric names carry the number of generated samples, since FID's bias depends on it:
`fid_samples: 10000` gives `fid10k`, 5000 `fid5k`, 2500 `fid2500`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ganbench.metrics.mog import mode_metrics

# What each kind of data is scored with, and which direction is better. Image metrics are the
# base names; `available_metrics(kind, cfg)` gives them with the config's sample count.
METRICS_BY_KIND: dict[str, dict[str, str]] = {
    "points": {"modes": "max", "modes_hq": "max", "hq": "max", "reverse_kl": "min"},
    "images": {"fid": "min", "kid": "min", "isc": "max", "precision": "max", "recall": "max"},
}
# `image_metrics:` entries -> the metric names each one produces.
IMAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",), "kid": ("kid",), "isc": ("isc",), "prc": ("precision", "recall"),
}
_COUNTED = re.compile(r"^(fid|kid|isc|precision|recall)(\d+)(k?)$")


def count_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def image_metric_names(metrics: list[str], n_gen: int) -> dict[str, str]:
    """{'fid10k': 'min', ...} for the `image_metrics` entries and generated-sample count."""
    goals, label = METRICS_BY_KIND["images"], count_label(n_gen)
    return {f"{out}{label}": goals[out] for m in metrics for out in IMAGE_OUTPUTS[m]}


def available_metrics(data_kind: str, cfg: Any = None) -> dict[str, str]:
    """Metric name -> goal ('min'/'max') a run of this data kind (and config) logs."""
    if data_kind == "images":
        return image_metric_names(cfg.image_metrics, cfg.fid_samples) if cfg is not None else {}
    return METRICS_BY_KIND.get(data_kind, {})


def metric_goal(name: str) -> str | None:
    """The better direction of any metric name, counted image names included."""
    m = _COUNTED.match(name)
    base = m.group(1) if m else name
    for goals in METRICS_BY_KIND.values():
        if base in goals:
            return goals[base]
    return None


def missing_metric_hint(name: str, cfg: Any) -> str:
    """What to set so that a config provides an image metric `name` (empty if not one)."""
    m = _COUNTED.match(name)
    if not m:
        return ""
    base, n = m.group(1), int(m.group(2)) * (1000 if m.group(3) else 1)
    entry = "prc" if base in ("precision", "recall") else base
    fixes = []
    if entry not in cfg.image_metrics:
        fixes.append(f"image_metrics: [{', '.join([*cfg.image_metrics, entry])}]")
    if n != cfg.fid_samples:
        fixes.append(f"fid_samples: {n}")
    return f"; {name} needs {' and '.join(fixes)} in base" if fixes else ""


def update_best(best: dict[str, tuple[float, int]], metrics: dict[str, float],
                goals: dict[str, str], step: int) -> None:
    """Keep the best finite value of each goal-bearing metric with its step (first on ties)."""
    for k, v in metrics.items():
        goal = goals.get(k)
        if goal is None or not math.isfinite(v):
            continue
        if k not in best or (v < best[k][0] if goal == "min" else v > best[k][0]):
            best[k] = (v, step)


__all__ = ["IMAGE_OUTPUTS", "METRICS_BY_KIND", "available_metrics", "count_label",
           "image_metric_names", "metric_goal", "missing_metric_hint", "mode_metrics",
           "update_best"]
