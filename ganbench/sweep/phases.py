"""What a sweep's queue holds besides its planned runs: nothing (a plain sweep), or a search
before the final runs (a tuned sweep: sweep/tune.py and its neighbours).

The runner and the worker ask a sweep's `Phases` (`for_spec` before it is enqueued, `of_meta`
from the queue's record after) and never branch on tuning themselves; another kind of sweep
with a phase of its own is a new subclass here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.config import ConfigError, SweepSpec
from ganbench.specs.plan import Plan
from ganbench.sweep import tune, tune_summary
from ganbench.sweep.job import Job
from ganbench.sweep.scheduler import Queue
from ganbench.sweep.tune_space import check_cells, check_unchanged
from ganbench.sweep.tune_worker import PHASE, run_trial

# What a worker with nothing queued is told to do (besides running an Extra).
WAIT, AGAIN = "wait", "again"


@dataclass(frozen=True)
class Extra:
    """A job of a phase's own (a search trial), claimed: the worker keeps its heartbeats and
    fails it if recording breaks; `run(ctx, queue, store)` trains and closes it."""

    trial_id: int
    run: Callable[[Any, Queue, Any], Any]


class Phases:
    """A plain sweep: the queue holds the planned runs, and nothing else."""

    def check(self, spec: SweepSpec, p: Plan) -> None:
        """Refuse (PlanError) a plan this kind of sweep cannot run."""

    def sequential_problem(self) -> str | None:
        """Why sequential seeds cannot decide here, or None."""
        return None

    def enqueue(self, queue: Queue, storage: str, p: Plan, spec_path: Path,
                shared: bool) -> list[str]:
        """Queue the phase's own work before the runs are synced; notes for the user."""
        return []

    def meta(self) -> dict[str, Any]:
        """What it keeps in the queue's record (read back by `of_meta`)."""
        return {}

    def queued(self, p: Plan, queue: Queue) -> list[dict[str, Any]]:
        """The runs the queue should hold now (synced against it)."""
        return [Job.planned(r).to_attrs() for r in p.runs]

    def keys(self, p: Plan, queue: Queue) -> list[str]:
        """The run keys the report ranks."""
        return [r.run_key for r in p.runs]

    def open_work(self, queue: Queue) -> int:
        """Jobs of its own still queued or running (counted as work left)."""
        return 0

    def plan_rows(self, p: Plan) -> list[dict[str, Any]]:
        """plan.json's rows."""
        return ([{"run_key": r.run_key, "cell": r.cell.label, "seed": r.seed} for r in p.runs]
                + [{"dropped": lab, "reason": why} for lab, why in p.dropped])

    def finished(self, queue: Queue) -> set[Any]:
        """Its own jobs closed so far (for `events`)."""
        return set()

    def events(self, queue: Queue, seen: set[Any]) -> list[dict[str, Any]]:
        """What the progress display shows of its jobs closed since `seen` (updated)."""
        return []

    def record(self, queue: Queue, spec: SweepSpec, folder: Path) -> Path | None:
        """Its own record for the report (a file in the sweep's folder), or None."""
        return None

    def run_tags(self) -> dict[str, str]:
        """MLflow tags on each queued run."""
        return {}

    def when_idle(self, queue: Queue, storage: str, exit_when_empty: bool
                  ) -> Extra | str | None:
        """With no queued run: an Extra to run, WAIT (others' work may queue more), AGAIN
        (it queued runs), or None (nothing: the worker's usual rules apply)."""
        return None


class Tuned(Phases):
    """A tuned sweep: each cell searches in a study of its own (`tune.budget` trials), and a
    cell's final runs are queued when its search is over."""

    def __init__(self, tmeta: dict[str, Any] | None = None) -> None:
        self.tmeta = tmeta

    def check(self, spec: SweepSpec, p: Plan) -> None:
        check_cells(spec, p.cells)  # every cell searches something

    def sequential_problem(self) -> str | None:
        return "a tuned sweep's seeds are its final phase; give it a seed count"

    def enqueue(self, queue: Queue, storage: str, p: Plan, spec_path: Path,
                shared: bool) -> list[str]:
        why = check_unchanged(p.spec, queue.meta.get("tune"))
        if why:
            raise ConfigError(f"{spec_path}: sweep {p.spec.name!r}: {why}; that would mix "
                              "trials of two searches: give the sweep a new name to search "
                              "afresh")
        self.tmeta = tune.tune_meta(p)
        return tune.enqueue_studies(queue, storage, p, self.tmeta, reclaim_running=not shared)

    def meta(self) -> dict[str, Any]:
        return {"tune": self.tmeta}

    def queued(self, p: Plan, queue: Queue) -> list[dict[str, Any]]:
        return tune.final_attrs(p, self.tmeta, queue.storage)

    def keys(self, p: Plan, queue: Queue) -> list[str]:
        return [a["run_key"] for a in self.queued(p, queue)]

    def open_work(self, queue: Queue) -> int:
        return tune_summary.open_trials(queue, self.tmeta)

    def plan_rows(self, p: Plan) -> list[dict[str, Any]]:
        # a tuned sweep's final runs are known once each cell's search is over
        return [{"cell": c.label, "tuned": True} for c in p.cells]

    def finished(self, queue: Queue) -> set[Any]:
        return tune_summary.finished_trials(queue, self.tmeta)

    def events(self, queue: Queue, seen: set[Any]) -> list[dict[str, Any]]:
        new = self.finished(queue) - seen
        out = []
        for study, number, info in sorted(tune_summary.trial_events(queue, self.tmeta, new)):
            seen.add((study, number))
            out.append(info)
        return out

    def record(self, queue: Queue, spec: SweepSpec, folder: Path) -> Path | None:
        # the searches' trials, best values and importances, for the report
        return tune_summary.write_summary(queue.storage, self.tmeta, spec,
                                          folder / "tuning.json")

    def run_tags(self) -> dict[str, str]:
        return {PHASE: "final"}  # the queued runs are the final phase

    def when_idle(self, queue: Queue, storage: str, exit_when_empty: bool
                  ) -> Extra | str | None:
        tune.reap(queue, self.tmeta)
        got = tune.claim(queue, self.tmeta)
        if got is not None:
            cell, study, job = got
            return Extra(job.trial_id, lambda ctx, q, store: run_trial(
                ctx, q, store, self.tmeta, cell, study, job))
        # wait while others search: their last trial of a cell queues its final phase
        if not exit_when_empty and tune.searching(queue, self.tmeta):
            return WAIT
        # a cell whose last trial's worker died before queueing its final phase
        if tune.start_every_final(queue, storage, self.tmeta):
            return AGAIN
        return None


def rerun_lost(attrs: dict[str, Any]) -> bool:
    """Whether a lost job is re-run whole, never closed with a result found later: a phase's
    own job (a search trial, marked by its role), known from the job alone, so a worker may
    ask before it has read the sweep's record."""
    return bool(attrs.get(tune.ROLE))


def for_spec(spec: SweepSpec) -> Phases:
    """A sweep's phases from its file (before it is enqueued)."""
    return Tuned() if spec.tune is not None else Phases()


def of_meta(meta: dict[str, Any]) -> Phases:
    """A sweep's phases from its queue's record (as enqueued)."""
    return Tuned(meta["tune"]) if meta.get("tune") else Phases()


__all__ = ["AGAIN", "WAIT", "Extra", "Phases", "Tuned", "for_spec", "of_meta", "rerun_lost"]
