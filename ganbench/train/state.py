"""Plain records the loop hands out: progress events and the run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import nn

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.tricks import Finding


@dataclass(frozen=True)
class Progress:
    step: int  # steps completed
    total: int
    losses: dict[str, float]  # mean of each term over the last logging window
    steps_per_s: float
    metrics: dict[str, float] | None = None  # set when an evaluation just ran


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

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"
