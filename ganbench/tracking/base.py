"""The Tracker protocol train() reports to, and an in-memory tracker for tests and `run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol


class Tracker(Protocol):
    def log_params(self, params: dict[str, Any]) -> None: ...
    def set_tags(self, tags: dict[str, str]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...
    def log_artifact(self, path: Path) -> None: ...


class MemoryTracker:
    """Keeps everything in lists; `history(name)` gives [(step, value), ...]."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.tags: dict[str, str] = {}
        self.metrics: list[tuple[int, str, float]] = []
        self.artifacts: list[Path] = []

    def log_params(self, params: dict[str, Any]) -> None:
        self.params.update(params)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.extend((step, k, float(v)) for k, v in metrics.items())

    def log_artifact(self, path: Path) -> None:
        self.artifacts.append(Path(path))

    def history(self, name: str) -> list[tuple[int, float]]:
        return [(s, v) for s, k, v in self.metrics if k == name]

    def last(self, name: str) -> float:
        hist = self.history(name)
        if not hist:
            raise KeyError(name)
        return hist[-1][1]


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as MLflow stores them: dotted keys, string values (lists and empty dicts
    as JSON). Here, not in store/mlflow.py, so that a planned run's params can be written
    the same way without importing mlflow (report/planning.py)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (dict, list, tuple)) else str(v)
    return out
