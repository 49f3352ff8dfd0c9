"""Evaluation metrics: exact mode metrics for 2-D mixtures (modes, modes_hq, hq, reverse_kl);
FID, KID, IS and precision/recall for images (computed by torch-fidelity in
metrics/fidelity.py; names here need no torch-fidelity); for datasets a ganbench classifier
labels (MNIST, Fashion-MNIST, Stacked MNIST), modes covered, KL to uniform and a classifier
score (metrics/labels.py).

Image metric names carry the number of generated samples, since their bias depends on it:
`fid_samples: 10000` gives `fid10k`, 5000 `fid5k`, 2500 `fid2500`; the classifier metrics
count `eval_samples` (26000 gives `label_modes26k`).
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
    "images": {"fid": "min", "kid": "min", "isc": "max", "precision": "max", "recall": "max",
               # label_modes: classes (joint over channels) with >= 1 generated sample;
               # label_kl: KL(generated label histogram || uniform); cis: classifier IS
               # (ganbench's own classifier, not Inception Score).
               "label_modes": "max", "label_kl": "min", "cis": "max"},
}
# `image_metrics:` entries -> the metric names each one produces.
IMAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "fid": ("fid",), "kid": ("kid",), "isc": ("isc",), "prc": ("precision", "recall"),
}
# The classifier entries (counted by eval_samples, not fid_samples; metrics/labels.py).
LABEL_OUTPUTS: dict[str, tuple[str, ...]] = {"labels": ("label_modes", "label_kl"),
                                             "cis": ("cis",)}
_COUNTED = re.compile(r"^(fid|kid|isc|precision|recall|label_modes|label_kl|cis)(\d+)(k?)$")


def count_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def image_metric_names(metrics: list[str], n_gen: int) -> dict[str, str]:
    """{'fid10k': 'min', ...} for the `image_metrics` entries and generated-sample count."""
    goals, label = METRICS_BY_KIND["images"], count_label(n_gen)
    return {f"{out}{label}": goals[out] for m in metrics for out in IMAGE_OUTPUTS.get(m, ())}


def label_metric_names(metrics: list[str], n_eval: int) -> dict[str, str]:
    """{'label_modes26k': 'max', ...} for the classifier entries of `image_metrics`."""
    goals, label = METRICS_BY_KIND["images"], count_label(n_eval)
    return {f"{out}{label}": goals[out] for m in metrics for out in LABEL_OUTPUTS.get(m, ())}


def available_metrics(data_kind: str, cfg: Any = None) -> dict[str, str]:
    """Metric name -> goal ('min'/'max') a run of this data kind (and config) logs."""
    if data_kind == "images":
        if cfg is None:
            return {}
        return {**image_metric_names(cfg.image_metrics, cfg.fid_samples),
                **label_metric_names(cfg.image_metrics, cfg.eval_samples)}
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
    entry = {"precision": "prc", "recall": "prc", "label_modes": "labels",
             "label_kl": "labels"}.get(base, base)
    count = "eval_samples" if entry in LABEL_OUTPUTS else "fid_samples"
    fixes = []
    if entry not in cfg.image_metrics:
        fixes.append(f"image_metrics: [{', '.join([*cfg.image_metrics, entry])}]")
    if n != getattr(cfg, count):
        fixes.append(f"{count}: {n}")
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


__all__ = ["IMAGE_OUTPUTS", "LABEL_OUTPUTS", "METRICS_BY_KIND", "available_metrics",
           "count_label", "image_metric_names", "label_metric_names", "metric_goal",
           "missing_metric_hint", "mode_metrics", "update_best"]
