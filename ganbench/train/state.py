"""Plain records the loop hands out: evaluations, progress events and the run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.tricks import Finding


class Evaluation(dict[str, float]):
    """One evaluation: its metrics (the dict itself) and their `tags` (protocol.<metric>,
    unavailable.<metric>), which the run's tracker gets."""

    def __init__(self, metrics: dict[str, float] | None = None,
                 tags: dict[str, str] | None = None) -> None:
        super().__init__(metrics or {})
        self.tags: dict[str, str] = dict(tags or {})


@dataclass(frozen=True)
class Progress:
    step: int  # steps completed
    total: int
    losses: dict[str, float]  # mean of each term over the last logging window
    steps_per_s: float
    metrics: dict[str, float] | None = None  # set when an evaluation just ran


class StopRun(Exception):  # noqa: N818 - a request, not an error
    """Raised by a progress callback to end a run early (a tuner pruning an unpromising
    trial): it leaves train() after the window's logging, evaluation and checkpoint, and the
    caller records the run as it sees fit. The loop knows nothing of who asked or why."""


@dataclass
class RunResult:
    status: Literal["finished", "diverged"]
    steps_done: int
    metrics: dict[str, float]  # the last evaluation
    seconds: float
    g: nn.Module
    d: nn.Module
    dataset: Dataset
    device: str
    caveats: list[Finding] = field(default_factory=list)
    diverged_step: int | None = None
    diverged_term: str | None = None
    cfg: RunConfig | None = None  # the resolved config that ran
    resumed_from: int | None = None  # the checkpoint's step when the run resumed from one
    # (step, CPU samples of the eval generator) at each evaluation (SeedRun.snapshot)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"
