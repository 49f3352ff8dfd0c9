"""A lone run: `Trainer` (one SeedRun and its optimisers; its steps are train/step.py's) and
`train()`, which trains it through the outer loop that vectorised seeds share
(train/windows.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.specs.run import conflict_error
from ganbench.tracking import Tracker
from ganbench.train.checkpoint import Checkpointer, payload_problem
from ganbench.train.runlog import RunLog
from ganbench.train.seed import SeedRun, pick_device
from ganbench.train.state import Evaluation, Progress, RunResult
from ganbench.train.step import OneSeed, d_step, g_step, train_step
from ganbench.train.windows import run_windows

__all__ = ["Trainer", "pick_device", "train"]


class Trainer(SeedRun):
    """Holds one run's nets, optimisers and tricks; `step()` does one D/G iteration."""

    def __init__(self, cfg: RunConfig, data: Dataset | None = None) -> None:
        """`data`: the run's dataset when the caller has it already; loaded when None."""
        super().__init__(cfg, data)
        self.opt_g = self.optimiser("g", self.g.parameters())
        self.opt_d = self.optimiser("d", self.d.parameters())
        self.as_seeds = OneSeed(self, self.opt_g, self.opt_d)
        self._last_tags: dict[str, str] = {}

    def d_step(self, step: int) -> dict[str, torch.Tensor]:
        return d_step(self.as_seeds, step)

    def g_step(self, step: int) -> dict[str, torch.Tensor]:
        return g_step(self.as_seeds, step)

    def step(self, step: int) -> dict[str, torch.Tensor]:
        """One iteration; returns {'d/<term>': t, 'g/<term>': t} (D terms of the last D step)."""
        return train_step(self.as_seeds, step)

    def state_dict(self, optimisers: tuple[dict[str, Any], dict[str, Any]] | None = None,
                   global_rng: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """Everything later steps depend on (`SeedRun.state_dict`), with this Trainer's own
        optimiser states unless `optimisers` are given."""
        opts = optimisers or (self.opt_g.state_dict(), self.opt_d.state_dict())
        return super().state_dict(opts, global_rng)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])

    def evaluate(self, g: torch.nn.Module | None = None, draw: int = 0) -> Evaluation:
        ev = super().evaluate(g, draw)
        self._last_tags = ev.tags
        return ev

    @property
    def eval_tags(self) -> dict[str, str]:
        """The tags of the last `evaluate()` (kept for interactive use; the loop reads the
        tags `evaluate()` returns)."""
        return self._last_tags


def train(cfg: RunConfig, tracker: Tracker | None = None,
          progress: Callable[[Progress], None] | None = None,
          checkpoints: Checkpointer | None = None) -> RunResult:
    """Train one configuration; a non-finite loss ends the run as `diverged`, not an error.

    With `checkpoints`, a run that has a saved state resumes from it (and re-logs the
    history logged before it), and a state is saved at the end of each logging window that
    finishes `checkpoints.every` or more steps after the last save; the resumed run's
    results are identical to an uninterrupted run's."""
    conflict_error(cfg)  # a library call gets the checks a run file gets
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    run = RunLog(tr.cfg, tr.data.kind, tracker, t0)
    run.start(tr.opening_tags())
    state = checkpoints.load() if checkpoints else None
    problem = payload_problem(state) if state is not None else None
    if problem and isinstance(getattr(checkpoints, "corrupt", None), list):
        # a valid sha256 over a payload that is not a run's checkpoint: damaged, step 0
        checkpoints.corrupt.append(f"the checkpoint: {problem}")
        state = None
    if state is not None and state.get("device_type") != tr.device.type:
        # RNG streams do not carry over between device types, so the run could not end where
        # the interrupted one would have: start again (a GPU run retried on a CPU worker).
        if tracker:
            tracker.set_tags({"checkpoint_skipped": f"written on {state.get('device_type')}, "
                              f"this worker runs on {tr.device.type}: restarted from step 0"})
        state = None
    step = 0
    if state is not None:  # saved at a window end: the next window starts at its step
        tr.load_state_dict(state)
        step = run.resume(state)
    if tracker and getattr(checkpoints, "corrupt", None):  # skipped for an older one or step 0
        tracker.set_tags({"checkpoint_corrupt": f"{'; '.join(checkpoints.corrupt)}; resumed "
                          f"from step {step}"[:4000]})
    report = (lambda _, p: progress(p)) if progress else None
    return run_windows(tr.as_seeds, [run], step, [checkpoints], report)[0]
