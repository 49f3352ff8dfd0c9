"""Evaluation metrics: exact mode metrics for 2-D mixtures (FID & co. for images come later)."""

from ganbench.metrics.mog import mode_metrics

# What each kind of data is scored with, and which direction is better.
METRICS_BY_KIND: dict[str, dict[str, str]] = {
    "points": {"modes": "max", "hq": "max", "reverse_kl": "min"},
    "images": {},
}


def available_metrics(data_kind: str) -> dict[str, str]:
    return METRICS_BY_KIND.get(data_kind, {})


__all__ = ["METRICS_BY_KIND", "available_metrics", "mode_metrics"]
