"""What a report is made of: the data read from the store, and its analysis per protocol.

Plain records, below everything that builds (build.py) or renders (markdown.py, latex.py) them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.report.across import Across
from ganbench.report.factorial import Factorial


@dataclass
class StoreData:
    """What a report reads from the tracking store."""

    name: str
    metric: str
    goal: str
    design: str
    seeds: list[int]
    runs: pd.DataFrame  # MLflowStore.runs_frame(), this plan's runs only (every attempt)
    order: list[str]  # cell labels in plan order
    history: pd.DataFrame  # run_id, step, value of `history_key`
    history_key: str
    samples: dict[str, Path]  # run_id -> its samples.png
    notes: list[str] = field(default_factory=list)
    tuning: dict | None = None  # a tuned sweep's search record (tuning.json on the parent)
    # run_id -> its pictures over training, (step, samples/step_N.png), in step order
    strips: dict[str, list[tuple[int, Path]]] = field(default_factory=dict)
    sequential: dict | None = None  # sequential seeds: the spec's {min, max, step, spending}


@dataclass
class Group:
    """The analysis of the runs under one metric protocol."""

    protocol: str
    tidy: pd.DataFrame
    ranked: pd.DataFrame
    ablations: dict[str, pd.DataFrame]
    factorial: Factorial | None
    sentences: list[str]
    # where the ablation and the factorial judge one comparison differently, and why
    disagreements: list[str] = field(default_factory=list)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (title, file name)
    headline: list[str] = field(default_factory=list)  # the verdict, report/verdict.py
    # evaluation noise beside seed-to-seed noise per cell (report/evalnoise.py)
    noise: pd.DataFrame | None = None
    # one trick across the dataset axis's values: supporting detail (report/across.py)
    across: Across | None = None
    # published numbers for the dataset and metric, shown or marked not comparable
    # (report/published.py); empty where none is registered
    published: list[str] = field(default_factory=list)


@dataclass
class Report:
    name: str
    metric: str
    goal: str
    design: str
    seeds: list[int]
    n_cells: int
    n_runs: int
    store: str
    protocol_column: str | None
    groups: list[Group]
    command: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown first: too few seeds
    stacked: int = 1  # the largest vectorised stack of seeds among the runs
    files: list[Path] = field(default_factory=list)
    tuning: Any = None  # report/tuning.py's Tuning, for tuned sweeps
