"""One run's bookkeeping, shared by train() and each seed of train_vectorised(): logging
windows (one host sync each), tags, logged history, evaluations, divergence, checkpoints and
the RunResult. It is handed what it records (configs, evaluations, states, nets) and knows
no trainer."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.metrics import available_metrics, update_best
from ganbench.specs.run import caveats
from ganbench.tracking import Tracker
from ganbench.train.schedules import RunSchedules
from ganbench.train.state import Evaluation, Progress, RunResult


def window_end(step: int, cfg: RunConfig) -> tuple[bool, bool]:
    """(log_now, eval_now) once `step` steps are done: a logging window ends every log_every
    steps and wherever G is evaluated (every eval_every steps and after the last step). It
    depends on the step alone, so a resumed run's windows line up with the uninterrupted
    run's."""
    eval_now = step == cfg.steps or (cfg.eval_every > 0 and step % cfg.eval_every == 0)
    return eval_now or step % cfg.log_every == 0, eval_now


class LossWindow:
    """The loss terms of the steps of one logging window, kept on the device until it ends."""

    def __init__(self, start: int) -> None:
        self.names: list[str] = []
        self.rows: list[torch.Tensor] = []
        self.restart(start)

    def restart(self, start: int) -> None:
        """The next window begins after `start` steps."""
        self.start, self.t_start = start, time.perf_counter()

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        """One step's terms: {name: scalar} (or {name: (S,)} for stacked seeds)."""
        if not self.names:
            self.names = list(terms)
        self.rows.append(torch.stack(list(terms.values())))

    def fetch(self, step: int) -> torch.Tensor:
        """The window's terms, (W, T) (or (W, T, S)), brought to the host in one sync; sets
        `rate`, the window's steps per second."""
        values = torch.stack(self.rows).cpu()
        self.rows.clear()
        self.rate = (step - self.start) / max(time.perf_counter() - self.t_start, 1e-9)
        return values


class RunLog:
    """One run's bookkeeping, for train() and for each seed of train_vectorised(): its tags,
    what it logged, its last and best evaluations, how it ended, and its RunResult."""

    def __init__(self, cfg: RunConfig, data_kind: str, tracker: Tracker | None, t0: float
                 ) -> None:
        """`cfg`: the resolved config that runs; `t0`: when the run started."""
        self.cfg, self.tracker, self.t0 = cfg, tracker, t0
        self.found = caveats(cfg)
        self.goals = available_metrics(data_kind, cfg)
        self.schedules = RunSchedules(cfg)
        self.metrics: dict[str, float] = {}  # the last evaluation
        self.eval_tags: dict[str, str] = {}  # and its tags
        self.best: dict[str, tuple[float, int]] = {}  # metric -> (best value, its step)
        # Everything logged, as (metrics, step): a checkpoint carries it, so the tracker of a
        # resumed run gets the whole history and not only the steps after the resume.
        self.logged: list[tuple[dict[str, float], int]] = []
        # (step, samples) at each evaluation, for the pictures over training (small: 1,000
        # points or 16 images each); checkpoints carry them too.
        self.snapshots: list[tuple[int, torch.Tensor]] = []
        self.status: Literal["finished", "diverged"] = "finished"
        self.bad_step: int | None = None
        self.bad_term: str | None = None
        self.seconds: float | None = None  # set where it diverges
        self.resumed_from: int | None = None
        self.seconds_before = 0.0  # wall time of the attempts before a resume

    def start(self, tags: dict[str, str], extra_tags: dict[str, str] | None = None) -> None:
        """The run's opening tags: `tags` (where its data came from, its device: the SeedRun's
        `opening_tags()`), its caveats, `extra_tags`."""
        if self.tracker:
            self.tracker.set_tags({**tags,
                                   "caveats": "; ".join(map(str, self.found)) or "none",
                                   **(extra_tags or {})})

    def log(self, values: dict[str, float], at: int) -> None:
        self.logged.append((values, at))
        if self.tracker:
            self.tracker.log_metrics(values, at)

    def checkpoint(self, step: int, trainer_state: dict[str, Any]) -> dict[str, Any]:
        """The state to save after `step` steps: the trainer's (`Trainer.state_dict()`, or a
        vectorised seed's) and the loop's."""
        loop = {"step": step, "metrics": self.metrics, "best": self.best, "logged": self.logged,
                "snapshots": self.snapshots,
                "eval_tags": self.eval_tags,
                # wall clock ("perf/": never compared between runs)
                "perf/seconds": self.seconds_before + time.perf_counter() - self.t0}
        return {**trainer_state, "loop": loop}

    def resume(self, state: dict[str, Any]) -> int:
        """Continue from `checkpoint()`'s output, whose trainer state the caller has loaded
        (the tracker gets the history logged before it again); returns the step to go on
        from."""
        loop = state["loop"]
        step = self.resumed_from = int(loop["step"])
        self.metrics = dict(loop["metrics"])
        self.best = {k: (v, at) for k, (v, at) in loop["best"].items()}
        self.logged = [(dict(m), int(at)) for m, at in loop["logged"]]
        self.snapshots = [(int(at), t) for at, t in loop.get("snapshots", [])]  # absent: older
        self.eval_tags = dict(loop["eval_tags"])
        self.seconds_before = float(loop.get("perf/seconds", 0.0))  # absent in older checkpoints
        if self.tracker:
            self.tracker.set_tags({"resumed_from_step": str(step)})
            for m, at in self.logged:
                self.tracker.log_metrics(m, at)
            if self.eval_tags:
                self.tracker.set_tags(self.eval_tags)
        return step

    def diverge(self, step: int, term: str) -> None:
        self.status, self.bad_step, self.bad_term = "diverged", step, term
        self.seconds = time.perf_counter() - self.t0
        if self.tracker:
            self.tracker.set_tags({"status": "diverged", "diverged_step": str(step),
                                   "diverged_term": term})

    def end_window(self, values: torch.Tensor, window: LossWindow, step: int,
                   evaluate: Callable[[], dict[str, float]] | None,
                   snapshot: Callable[[], torch.Tensor] | None = None) -> Progress | None:
        """Close a window from its terms `values` (W, T, on the host): a non-finite one ends
        the run as diverged at its first bad step and term (None); otherwise the means are
        logged, `evaluate()` (an Evaluation; plain metrics leave the tags as they are) is
        called and logged if given (with `snapshot()`'s samples kept beside it), and the
        window's Progress is returned."""
        bad = ~torch.isfinite(values)
        if bad.any():
            row, col = bad.nonzero()[0].tolist()
            self.diverge(window.start + row, window.names[col])
            return None
        losses = dict(zip(window.names, values.mean(0).tolist(), strict=True))
        self.log({f"train/{k}": v for k, v in losses.items()}, step)
        if self.schedules:  # the values the window's last step used
            self.log({f"schedule/{k}": v for k, v in self.schedules.values(step - 1).items()},
                     step)
        self.log({"perf/steps_per_s": window.rate}, step)
        evaluated = None
        if evaluate is not None:
            ev = evaluate()
            if isinstance(ev, Evaluation):
                self.eval_tags = dict(ev.tags)
            # A plain dict: checkpoints hold it (and load with weights_only=True).
            self.metrics = evaluated = dict(ev)
            update_best(self.best, self.metrics, self.goals, step)
            if snapshot is not None:
                self.snapshots.append((step, snapshot()))
            if self.metrics:
                self.log({f"eval/{k}": v for k, v in self.metrics.items()}, step)
                if self.tracker and self.eval_tags:
                    self.tracker.set_tags(self.eval_tags)
        return Progress(step, self.cfg.steps, losses, window.rate, evaluated)

    def result(self, step: int, d_steps: int, *, g: nn.Module, d: nn.Module, data: Dataset,
               device: str) -> RunResult:
        """The final logging (last and best evaluations, costs, status) and the RunResult,
        `step` steps done (`d_steps` D steps), of the run whose evaluated G, D, data and
        device are given.

        Costs, so that tables can compare at equal compute: `perf/seconds` (wall time of the
        run, resumed attempts included; seeds trained as one stack share its time; `perf/`
        as it is wall clock), `cost/d_steps` and `cost/g_steps` (optimiser steps taken). A
        final metric that is undefined (NaN, which MLflow drops) is named in the
        `undefined_final` tag, so the report never reads an earlier step's value as final."""
        finished = self.status == "finished"
        seconds = time.perf_counter() - self.t0 if self.seconds is None else self.seconds
        # Logged at the last step trained (a diverged run's bad step), which a lone and a
        # stacked seed agree on even where they notice the divergence at different steps.
        g_steps = step if finished else self.bad_step
        if self.tracker:
            self.tracker.log_metrics({"perf/seconds": self.seconds_before + seconds,
                                      "cost/d_steps": d_steps,
                                      "cost/g_steps": g_steps}, g_steps)
            if finished:
                final = {k: v for k, v in self.metrics.items() if k in self.goals}
                self.tracker.log_metrics({f"eval/{k}/final": v for k, v in final.items()},
                                         step)
                undefined = [k for k in self.goals if not _finite(final.get(k))]
                self.tracker.set_tags({"status": "finished",
                                       "undefined_final": ",".join(undefined) or "none"})
            for k, (v, at) in self.best.items():
                self.tracker.log_metrics({f"eval/{k}/best": v, f"eval/{k}/best_step": at}, at)
        return RunResult(self.status, step if finished else self.bad_step, self.metrics,
                         seconds, g, d, data, device, self.found, self.bad_step, self.bad_term,
                         self.cfg, resumed_from=self.resumed_from,
                         snapshots=list(self.snapshots))


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)
