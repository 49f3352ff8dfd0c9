"""A tuned sweep's studies read: counts for progress and status, and the search record for
the report: every cell's trials (outcome, value, drawn
values), its best trial, its counts, and Optuna's fANOVA parameter importances. Written as
tuning.json beside the report and on the sweep's parent run, so the report is still built
from the MLflow store alone (report/tuning.py reads it; only this side imports optuna).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ganbench.atomic import write_atomic
from ganbench.config import SweepSpec
from ganbench.sweep.scheduler import Queue
from ganbench.sweep.tune import ROLE, best_trial, counted, decoded, open_cell, outcome

MIN_FOR_IMPORTANCE = 4  # finished trials below which fANOVA's forest says nothing useful


def importances(study: optuna.Study, space: dict[str, dict]) -> tuple[dict | None, str]:
    """(param -> fANOVA importance, note) or (None, why unavailable). Never made up."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]
    if not space:
        return None, "nothing was searched in this cell"
    if len(done) < MIN_FOR_IMPORTANCE:
        return None, (f"unavailable: {len(done)} finished trial(s), fANOVA needs at least "
                      f"{MIN_FOR_IMPORTANCE} here")
    if len({json.dumps(t.params, sort_keys=True, default=str) for t in done}) < 2:
        return None, "unavailable: every finished trial drew the same values"
    try:
        from optuna.importance import FanovaImportanceEvaluator

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = optuna.importance.get_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=0))
    except ImportError as e:  # fANOVA's random forest is scikit-learn's
        return None, f"unavailable: {e.name or 'scikit-learn'} is not installed"
    except (ValueError, RuntimeError) as e:
        return None, f"unavailable: {str(e).splitlines()[0][:200]}"
    note = ("one parameter was searched: its importance is 1 by construction"
            if len(space) == 1 else "fANOVA (Hutter et al. 2014) over the finished trials")
    return {k: float(v) for k, v in got.items()}, note


def cell_summary(study: optuna.Study, cm: dict[str, Any]) -> dict[str, Any]:
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append({
            "number": t.number, "outcome": outcome(t), "counted": counted(t),
            "role": t.user_attrs.get(ROLE, "search"),
            "value": t.value if t.value is not None and math.isfinite(t.value) else None,
            "params": decoded(t.params, cm["space"]),
            "last_step": max(t.intermediate_values, default=None),
        })
    best = best_trial(study)
    imp, note = importances(study, cm["space"])
    counts: dict[str, int] = {}
    for t in trials:
        key = t["outcome"] if t["counted"] else "replaced"
        counts[key] = counts.get(key, 0) + 1
    return {"label": cm["label"], "cell_id": cm["cell_id"], "study": cm["study"],
            "space": cm["space"], "default": cm["default"], "default_note": cm["default_note"],
            "trials": trials, "counts": counts,
            "best": None if best is None else {"number": best.number, "value": best.value,
                                                "params": decoded(best.params, cm["space"])},
            "importances": imp, "importance_note": note}


def open_trials(queue: Queue, meta: dict[str, Any]) -> int:
    """Search trials queued or running, over every cell."""
    return sum(len(open_cell(queue.storage, meta, cm, None).get_trials(
        deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)))
        for cm in meta["cells"])


def finished_trials(queue: Queue, meta: dict[str, Any]) -> set[tuple[str, int]]:
    """(study, trial number) of every closed search trial."""
    return {(cm["study"], t.number) for cm in meta["cells"]
            for t in open_cell(queue.storage, meta, cm, None).get_trials(deepcopy=False)
            if t.state.is_finished()}


def trial_events(queue: Queue, meta: dict[str, Any], which: set[tuple[str, int]]
                 ) -> list[tuple[str, int, dict[str, Any]]]:
    """What the progress display shows of these closed trials."""
    out = []
    for cm in meta["cells"]:
        for t in open_cell(queue.storage, meta, cm, None).get_trials(deepcopy=False):
            if (cm["study"], t.number) in which:
                out.append((cm["study"], t.number, {
                    "status": outcome(t), "run_name": f"{cm['label']} · search trial {t.number}",
                    "metric": t.value, "failure_reason": t.user_attrs.get("failure_reason", ""),
                    "number": t.number}))
    return out


def search_counts(queue: Queue, meta: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Cell label -> {outcome: trials} of its search (replaced attempts as "replaced")."""
    out = {}
    for cm in meta["cells"]:
        c: dict[str, int] = {}
        for t in open_cell(queue.storage, meta, cm, None).get_trials(deepcopy=False):
            key = outcome(t) if counted(t) else "replaced"
            c[key] = c.get(key, 0) + 1
        out[cm["label"]] = c
    return out


def summary(storage, meta: dict[str, Any], spec: SweepSpec) -> dict[str, Any]:
    keep = ("budget", "sampler", "seed", "tune_seeds", "search_seeds", "final_seeds", "pruner",
            "space", "steps")
    return {**{k: meta[k] for k in keep}, "metric": spec.metric.name, "goal": spec.metric.goal,
            "cells": [cell_summary(open_cell(storage, meta, cm, None), cm)
                      for cm in meta["cells"]]}


def write_summary(storage, meta: dict[str, Any], spec: SweepSpec, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(summary(storage, meta, spec), indent=1, default=str))
    return path


__all__ = ["MIN_FOR_IMPORTANCE", "cell_summary", "finished_trials", "importances", "open_trials",
           "search_counts", "summary", "trial_events", "write_summary"]
