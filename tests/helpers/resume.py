"""Helpers shared by the checkpoint/resume tests (unit, vectorised, contract)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganbench.tracking import MemoryTracker
from ganbench.train.checkpoint import FileCheckpointer


class Crash(Exception):
    """Stands for the process dying: the steps after the last checkpoint are lost."""


class RecordingCheckpointer(FileCheckpointer):
    def __init__(self, path: Path, every: int) -> None:
        super().__init__(path, every)
        self.saved_at: list[int] = []

    def save(self, state: dict[str, Any], step: int) -> None:
        super().save(state, step)
        self.saved_at.append(step)


def exact(x: Any) -> Any:
    """x with every NaN replaced by a marker, so == compares exactly and NaN equals NaN."""
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, dict):
        return {k: exact(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [exact(v) for v in x]
    return x


def history(tracker: MemoryTracker) -> list:
    # perf/steps_per_s is wall-clock: it differs between any two runs.
    return exact([m for m in tracker.metrics if not m[1].startswith("perf/")])
