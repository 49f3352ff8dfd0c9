"""A worker's side of a tuned sweep: train one claimed search trial and tell its study.

A trial is the cell's configuration with the values its sampler draws, trained over the
search seeds one after another (never the final seeds); its value is the mean final metric.
Each seed is its own MLflow child run tagged `ganbench.phase: search`. With a pruner, every
evaluation's metric is reported to the trial at step `seed index x steps + step` (the same
step means the same seed and training step in every trial of the cell) and a trial the
pruner stops ends PRUNED. A diverged seed ends the trial as FAIL (diverged): a result for
the budget, never re-run. An error ends it as FAIL (error), counted too.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ganbench.atomic import DiskFullError, disk_full
from ganbench.effective import resolved_params
from ganbench.store.mlflow import SWEEP, MLflowStore
from ganbench.sweep.scheduler import Claimed, Queue
from ganbench.sweep.tune import (
    NOT_COUNTED,
    ROLE,
    decoded,
    distribution,
    requeue,
    start_final,
)
from ganbench.sweep.tune_space import configure, run_key
from ganbench.train import StopRun, train
from ganbench.version import __version__

PHASE = "ganbench.phase"  # MLflow tag: "search" (phase 1) or "final" (phase 2)


def suggest(trial: optuna.Trial, space: dict[str, dict]) -> dict[str, Any]:
    """Draw (or read the fixed) values of the cell's space; returned decoded."""
    raw = {}
    for key, dom in space.items():
        d = distribution(dom)
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            raw[key] = trial.suggest_categorical(key, d.choices)
        elif isinstance(d, optuna.distributions.IntDistribution):
            raw[key] = trial.suggest_int(key, d.low, d.high, log=d.log)
        else:
            raw[key] = trial.suggest_float(key, d.low, d.high, log=d.log)
    return decoded(raw, space)


def run_trial(ctx, queue: Queue, store: MLflowStore, meta: dict[str, Any], cm: dict[str, Any],
              study: optuna.Study, job: Claimed) -> str:
    """Train the claimed trial (`ctx`: the worker's WorkerContext) and close it; then start
    the cell's phase 2 if this was its last trial. Returns the trial's outcome."""
    trial = optuna.Trial(study, job.trial_id)
    try:
        params = suggest(trial, cm["space"])
    except Exception as e:  # noqa: BLE001 - a sampler failure fails this trial, not the worker
        queue.fail(job.trial_id, "error", f"sampling failed: {type(e).__name__}: {e}"[:1000])
        return "error"
    status, value = _train_seeds(ctx, queue, store, meta, cm, trial, job, params)
    if status == "finished":
        queue.complete(job.trial_id, value, {"metric": value})
    elif status == "pruned":
        queue.set_attrs(job.trial_id, {"status": "pruned"})
        study.tell(trial, state=TrialState.PRUNED)
    start_final(queue, ctx.storage, meta, cm, study)
    return status


def _train_seeds(ctx, queue, store, meta, cm, trial, job, params) -> tuple[str, float | None]:
    base = configure_cell(cm, params)
    steps, values, runs = meta["steps"], [], []
    prune = bool(meta.get("pruner")) and meta["pruner"]["name"] != "none"
    for j, seed in enumerate(meta["search_seeds"]):
        cfg = base.model_copy(update={"seed": seed, "device": ctx.device})
        if ctx.data_root:
            cfg = cfg.model_copy(update={"data_root": Path(ctx.data_root)})
        tracker = _open(ctx, store, cm, job, cfg, params, seed)
        runs.append(tracker.run_id)
        queue.set_attrs(job.trial_id, {"mlflow_run_ids": runs, "mlflow_run_id": tracker.run_id})

        def report(p, j=j, seed=seed) -> None:
            v = (p.metrics or {}).get(ctx.metric)
            if prune and v is not None and math.isfinite(v):
                trial.report(v, step=j * steps + p.step)
                if trial.should_prune():
                    raise StopRun(f"pruned at step {p.step} of seed {seed}")

        try:
            result = train(cfg, tracker, progress=report)
        except StopRun as e:
            tracker.set_tags({"status": "pruned", "failure_reason": str(e)})
            tracker.finish("KILLED")
            return "pruned", None
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            tracker.set_tags({"status": "killed", "failure_reason": "interrupted (Ctrl-C)"})
            tracker.finish("KILLED")
            queue.fail(job.trial_id, "killed", "interrupted (Ctrl-C)")
            if queue.liveness:  # shared: another worker takes it now, same values
                requeue(trial.study, job.trial_id)
            raise
        except Exception as e:  # noqa: BLE001 - counted as a failed trial, never re-run
            if disk_full(e):
                tracker.finish("KILLED")
                queue.fail(job.trial_id, "interrupted", f"{type(e).__name__}: {e}"[:1000])
                raise DiskFullError(str(e)) from None
            msg = f"{type(e).__name__}: {e}"
            tracker.set_tags({"status": "error", "failure_reason": msg[:4000]})
            tracker.finish("FAILED")
            queue.fail(job.trial_id, "error", msg[:1000])
            return "error", None
        if result.diverged:
            tracker.set_tags({"failure_reason": "diverged"})
            tracker.finish("FAILED")
            queue.fail(job.trial_id, "diverged", f"{result.diverged_term} non-finite at step "
                       f"{result.diverged_step} (seed {seed})")
            return "diverged", None
        value = result.metrics.get(ctx.metric, math.nan)
        tracker.set_tags({"score_metric": ctx.metric})
        tracker.log_metrics({"score": value}, result.steps_done)
        tracker.finish("FINISHED")
        values.append(value)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return "finished", (sum(finite) / len(finite) if len(finite) == len(values) else math.nan)


def configure_cell(cm: dict[str, Any], params: dict[str, Any]):
    from ganbench.config import RunConfig

    cell_cfg = RunConfig.model_validate_json(cm["config"])
    return configure(cell_cfg, params, cell_cfg.seed)


def _open(ctx, store: MLflowStore, cm: dict, job: Claimed, cfg, params: dict, seed: int):
    tracker = store.start_child(ctx.experiment_id, ctx.parent_run_id,
                                f"{cm['label']} · trial {job.number} · s{seed}", {
                                    "ganbench.cell_id": cm["cell_id"], "ganbench.cell": cm["label"],
                                    SWEEP: ctx.study, PHASE: "search",
                                    "ganbench.tune_study": cm["study"],
                                    "ganbench.tune_trial": str(job.number),
                                    "ganbench.tune_role": job.attrs.get(ROLE, "search"),
                                    "ganbench.search_key": run_key(cfg),
                                    "git_commit": ctx.git_commit,
                                    "ganbench_version": __version__})
    drop = {"data_root"} | ({"name"} if cfg.name is None else set())
    tracker.log_params({**cfg.model_dump(mode="json", exclude=drop),
                        "trick_list": cm["trick_list"], **resolved_params(cfg),
                        **{f"tuned.{k}": str(v) for k, v in params.items()}})
    return tracker


__all__ = ["NOT_COUNTED", "PHASE", "run_trial", "suggest"]
