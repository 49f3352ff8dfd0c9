"""A tuned sweep's studies: one Optuna study per cell in the sweep's storage (one of the queue's
modules that import optuna, see sweep/scheduler.py).

Budget without overshoot: the controller enqueues exactly `budget` trials per cell (trial 0
holds the cell's defaults when its space contains them; the others are placeholders whose
values the sampler draws when a worker claims them). Workers never create trials: a claim
moves a WAITING trial to RUNNING, atomic in the storage (the queue's own claim), so any
number of workers on any number of machines run exactly `budget` trials per cell. A trial
that ends finished, pruned, diverged or in error counts; one whose worker stopped or died
(killed, interrupted, lost) does not and is replaced once: on a journal by the next start of
`ganbench sweep` (like the queue's runs), on shared storage by the stale-heartbeat reaper,
with the same sampled values.

Phase 2: when a cell's last trial closes, the worker that closed it enqueues the cell's best
configuration over the final seeds in the sweep's queue (Queue.sync: a run already there is
not added again; local storages take a lock around it, and a duplicate that slips past on a
server is recorded as superseded by the queue's one-result-per-run rule).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import socket
import warnings
from collections.abc import Iterator
from typing import Any

import optuna
from filelock import FileLock
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from ganbench.config import RunConfig
from ganbench.specs.plan import Cell, Plan
from ganbench.specs.tune import search_seeds
from ganbench.storelock import first_creation_lock, sqlite_path
from ganbench.sweep.job import Job
from ganbench.sweep.scheduler import Claimed, Queue
from ganbench.sweep.storage import is_shared
from ganbench.sweep.tune_space import (
    cell_space,
    decode,
    default_params,
    domain_of,
    encode,
    final_runs,
)

ROLE = "tune_role"  # a cell study's trial: "default" (the cell's defaults) or "search"
NOT_COUNTED = ("killed", "interrupted", "lost")  # its worker stopped: replaced, not counted
META = "ganbench.tune"  # a cell study's user attribute: sweep, cell, space, sampler, budget


def study_name(sweep: str, label: str) -> str:
    return f"{sweep}/tune/{label}"


def tune_meta(p: Plan) -> dict[str, Any]:
    """What every worker needs to run the search (stored on the sweep's study)."""
    t = p.spec.tune
    cells = []
    for cell in p.cells:
        space = cell_space(p.spec, cell)
        default, why = default_params(cell.config, space)
        cells.append({"cell_id": cell.cell_id, "label": cell.label, "trick_list": cell.trick_list,
                      "study": study_name(p.spec.name, cell.label), "space": space,
                      "config": cell.config.model_dump_json(), "default": default,
                      "default_note": why})
    return {"budget": t.budget, "sampler": t.sampler, "seed": t.seed,
            "tune_seeds": t.tune_seeds, "search_seeds": search_seeds(t),
            "final_seeds": p.spec.seed_list, "steps": p.cells[0].config.steps,
            "pruner": t.pruner.model_dump() if t.pruner else None,
            "space": {k: domain_of(v) for k, v in t.space.items()}, "cells": cells}


# ---------------------------------------------------------------- samplers and pruners


def distribution(dom: dict[str, Any]):
    if "choices" in dom:
        return CategoricalDistribution([encode(c) for c in dom["choices"]])
    if dom.get("int"):
        return IntDistribution(int(dom["low"]), int(dom["high"]), log=dom["log"])
    return FloatDistribution(float(dom["low"]), float(dom["high"]), log=dom["log"])


def sampler(meta: dict[str, Any], space: dict[str, dict], number: int | None = None
            ) -> optuna.samplers.BaseSampler:
    """The sweep's sampler. A worker builds one per claimed trial, seeded from the sweep's
    seed and the trial's number: one seed for every trial would draw the same random values
    in every trial (each worker, each claim starts a fresh sampler). Trial n of every cell
    gets the same seed. The grid keeps the sweep's seed: it fixes the grid's order."""
    seed = meta["seed"]
    if number is not None and meta["sampler"] != "grid":
        seed = (seed * 1_000_003 + number) % 2**32
    if meta["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if meta["sampler"] == "grid":
        return optuna.samplers.GridSampler(
            {k: [encode(c) for c in d["choices"]] for k, d in space.items()}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(meta: dict[str, Any]) -> optuna.pruners.BasePruner:
    p = meta.get("pruner")
    if not p or p["name"] == "none":
        return optuna.pruners.NopPruner()
    kw = {"n_startup_trials": p["startup_trials"], "n_warmup_steps": p["warmup_steps"]}
    if p["name"] == "percentile":
        return optuna.pruners.PercentilePruner(p["percentile"], **kw)
    return optuna.pruners.MedianPruner(**kw)


def open_cell(storage, meta: dict[str, Any], cell: dict[str, Any], direction: str | None,
              number: int | None = None) -> optuna.Study:
    """A cell's study with the sweep's sampler (seeded for trial `number`) and pruner
    (direction None: the study must exist)."""
    kw = {"study_name": cell["study"], "storage": storage,
          "sampler": sampler(meta, cell["space"], number), "pruner": pruner(meta)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if direction is None:
            return optuna.load_study(**kw)
        return optuna.create_study(direction=direction, load_if_exists=True, **kw)


# ---------------------------------------------------------------- counting


def counted(t: FrozenTrial) -> bool:
    """Whether a trial spends budget: everything but a replaced attempt of a stopped worker
    (a FAIL without status was failed by the stale-heartbeat reaper: lost)."""
    if t.state != TrialState.FAIL:
        return True
    return t.user_attrs.get("status", "lost") not in NOT_COUNTED


def outcome(t: FrozenTrial) -> str:
    if t.state == TrialState.COMPLETE:
        return "finished"
    if t.state == TrialState.PRUNED:
        return "pruned"
    if t.state in (TrialState.WAITING, TrialState.RUNNING):
        return t.state.name.lower()
    return t.user_attrs.get("status", "lost")


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]
    if not done:
        return None
    sign = -1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1
    return min(done, key=lambda t: (sign * t.value, t.number))  # ties: the earlier trial


def decoded(params: dict[str, Any], space: dict[str, dict]) -> dict[str, Any]:
    return {k: decode(v, space[k]) for k, v in params.items() if k in space}


# ---------------------------------------------------------------- the controller's side


def enqueue_studies(queue: Queue, storage_url: str, p: Plan, meta: dict[str, Any],
                    reclaim_running: bool) -> list[str]:
    """Create each cell's study and top it up to `budget` counted trials; with
    reclaim_running (a journal: one controller) a trial left RUNNING is failed as
    interrupted and replaced with the same values. Returns notes."""
    notes = []
    direction = "maximize" if p.spec.metric.goal == "max" else "minimize"
    with first_creation_lock(storage_url):  # two controllers on one SQLite file: one top-up
        for cell in meta["cells"]:
            study = open_cell(queue.storage, meta, cell, direction)
            study.set_user_attr(META, {"sweep": p.spec.name, "cell": cell["label"],
                                       "cell_id": cell["cell_id"], "space": cell["space"],
                                       "sampler": meta["sampler"], "sampler_seed": meta["seed"],
                                       "budget": meta["budget"],
                                       "tune_seeds": meta["tune_seeds"]})
            trials = study.get_trials(deepcopy=False)
            if reclaim_running:
                for t in trials:
                    if t.state == TrialState.RUNNING:
                        queue.fail(t._trial_id, "interrupted", "the worker stopped mid-trial")
                        _replace(study, t)
                trials = study.get_trials(deepcopy=False)
            have = sum(counted(t) for t in trials)
            roles = {t.user_attrs.get(ROLE) for t in trials if counted(t)}
            if have < meta["budget"] and cell["default"] is not None and "default" not in roles:
                study.enqueue_trial({k: encode(v) for k, v in cell["default"].items()},
                                    user_attrs={ROLE: "default"})
                have += 1
            if meta["sampler"] == "grid":
                _enqueue_grid(study, meta, cell, trials, meta["budget"] - have)
            else:
                for _ in range(meta["budget"] - have):
                    study.add_trial(create_trial(state=TrialState.WAITING,
                                                 user_attrs={ROLE: "search"}))
            if have > meta["budget"]:
                notes.append(f"cell {cell['label']}: {have} trials already, more than the budget "
                             f"of {meta['budget']}; none added")
    return notes


def _fixed(t: FrozenTrial) -> dict[str, Any]:
    """A trial's values: drawn, or fixed when it was enqueued (not yet run)."""
    return dict(t.params) or dict(t.system_attrs.get("fixed_params") or {})


def _enqueue_grid(study: optuna.Study, meta: dict[str, Any], cell: dict[str, Any],
                  trials: list[FrozenTrial], n: int) -> None:
    """Grid: every trial is enqueued with its point fixed (no race on the grid's order among
    workers): the points in an order shuffled by the sweep's seed, least used first, so a
    budget below the grid's size is a seeded subset and a larger one repeats points evenly."""
    keys = list(cell["space"])
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(
        *([encode(c) for c in cell["space"][k]["choices"]] for k in keys))]
    random.Random(meta["seed"]).shuffle(points)
    used = [_fixed(t) for t in trials if counted(t)]
    for _ in range(n):
        p = min(points, key=lambda q: used.count(q))  # stable: the first least-used point
        used.append(p)
        study.enqueue_trial(p, user_attrs={ROLE: "search"})


def _replace(study: optuna.Study, t: FrozenTrial) -> None:
    """A stopped trial's replacement: the same values (drawn or fixed), queued again."""
    attrs = {ROLE: t.user_attrs.get(ROLE, "search")}
    if _fixed(t):
        study.enqueue_trial(_fixed(t), user_attrs=attrs)
    else:  # drew nothing yet: a placeholder (fixed_params would stop the grid sampler)
        study.add_trial(create_trial(state=TrialState.WAITING, user_attrs=attrs))


def final_attrs(p: Plan, meta: dict[str, Any], storage) -> list[dict[str, Any]]:
    """The phase-2 runs of every cell whose search is over (for the queue's sync)."""
    out = []
    cells = {c.cell_id: c for c in p.cells}
    for cell in meta["cells"]:
        study = open_cell(storage, meta, cell, None)
        out += _final_of(cells[cell["cell_id"]], cell, study, meta)
    return out


def _final_of(cell: Cell, cm: dict[str, Any], study: optuna.Study, meta: dict[str, Any]
              ) -> list[dict[str, Any]]:
    trials = study.get_trials(deepcopy=False)
    if any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in trials):
        return []
    if sum(counted(t) for t in trials) < meta["budget"]:
        return []
    best = best_trial(study)
    if best is None:  # every trial failed or was pruned: the report says so
        return []
    runs = final_runs(cell, decoded(best.params, cm["space"]), meta["final_seeds"])
    return [{**Job.planned(r).to_attrs(), "tune_best_trial": best.number} for r in runs]


def cell_of(cm: dict[str, Any]) -> Cell:
    """A Cell from its meta entry (what a worker elsewhere has of the plan)."""
    return Cell(cm["cell_id"], cm["label"], {}, {}, RunConfig.model_validate_json(cm["config"]),
                cm["trick_list"])


# ---------------------------------------------------------------- the workers' side


def claim(queue: Queue, meta: dict[str, Any]) -> tuple[dict, optuna.Study, Claimed] | None:
    """Claim the next queued search trial of any cell (cells in plan order)."""
    for cm in meta["cells"]:
        study = open_cell(queue.storage, meta, cm, None)
        for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            got = queue.take(t)
            if got is not None:
                mine = open_cell(queue.storage, meta, cm, None, t.number)
                # An RDB storage is wrapped in a fresh trial cache per study object: read the
                # trials (ours RUNNING now) so that it can write this trial's values.
                mine.get_trials(deepcopy=False)
                return cm, mine, got
    return None


def searching(queue: Queue, meta: dict[str, Any]) -> bool:
    """Whether some cell's trial is running on a live worker (its end may enqueue phase 2)."""
    for cm in meta["cells"]:
        study = open_cell(queue.storage, meta, cm, None)
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if queue.liveness or _alive(t.user_attrs.get("worker", "")):
                return True
    return False


def _alive(worker: str) -> bool:
    """A local worker (host:pid) that still runs; one of another host is taken as alive."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return bool(worker)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(queue: Queue, meta: dict[str, Any]) -> None:
    """Fail and replace the trials of workers whose heartbeats stopped (shared storage)."""
    if not queue.liveness:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for cm in meta["cells"]:
            optuna.storages.fail_stale_trials(open_cell(queue.storage, meta, cm, None))


def requeue(study: optuna.Study, trial_id: int) -> None:
    """Shared storage: a Ctrl-C'd trial is queued again at once with the same values."""
    _replace(study, study._storage.get_trial(trial_id))


def start_final(queue: Queue, storage_url: str, meta: dict[str, Any], cm: dict[str, Any],
                study: optuna.Study) -> int:
    """After a cell's trial closed: enqueue the cell's phase 2 if its search is over.
    Returns the number of runs added."""
    attrs = _final_of(cell_of(cm), cm, study, meta)
    if not attrs:
        return 0
    with _lock(storage_url):
        return queue.sync(attrs, reclaim_running=False).added


def start_every_final(queue: Queue, storage_url: str, meta: dict[str, Any]) -> int:
    """Queue the final phase of every cell whose search is over and whose final runs are not
    queued at all (its last trial's worker may have died in between): a final run that
    failed is left to the next `ganbench sweep`, as any failed run. The runs added."""
    known = {t.user_attrs.get("run_key") for t in queue.trials()}
    added = 0
    for cm in meta["cells"]:
        attrs = _final_of(cell_of(cm), cm, open_cell(queue.storage, meta, cm, None), meta)
        if attrs and not known & {a["run_key"] for a in attrs}:
            with _lock(storage_url):
                added += queue.sync(attrs, reclaim_running=False).added
    return added


@contextlib.contextmanager
def _lock(url: str) -> Iterator[None]:
    if not is_shared(url):
        path = url.removeprefix("journal:") + ".tune.lock"
    elif sqlite_path(url) is not None:
        path = str(sqlite_path(url)) + ".tune.lock"
    else:
        yield  # a server: the queue's one-result-per-run rule settles a rare duplicate
        return
    with FileLock(path, timeout=600):
        yield


__all__ = ["META", "NOT_COUNTED", "ROLE", "best_trial", "cell_of", "claim", "counted",
           "decoded", "distribution", "enqueue_studies", "final_attrs", "open_cell", "outcome",
           "pruner", "reap", "requeue", "sampler", "searching", "start_every_final", "start_final",
           "study_name",
           "tune_meta"]
