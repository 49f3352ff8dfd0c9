"""Evaluation metrics: exact mode metrics for 2-D mixtures (FID & co. for images come later)."""

from ganbench.metrics.mog import mode_metrics

__all__ = ["mode_metrics"]
