"""A worker pulls queued runs until none is left: train, record in MLflow, tell the study.

Runs in its own process (`ganbench sweep --workers N` starts N; `ganbench worker` one). A
diverged run is a result; an exception in one run is recorded and the worker goes on; Ctrl-C
marks the run in flight killed (MLflow and study) before the worker exits.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

import ganbench
from ganbench.config import RunConfig
from ganbench.outputs import write_run_folder
from ganbench.sweep.scheduler import Claimed, Queue
from ganbench.tracking.mlflow import RUN_KEY, SWEEP, MLflowStore
from ganbench.train import train


@dataclass(frozen=True)
class WorkerContext:
    storage: str
    study: str
    direction: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    metric: str
    threads: int = 1
    device: str = "auto"
    data_root: str | None = None
    git_commit: str = "unknown"


def run_one(ctx: WorkerContext, queue: Queue, store: MLflowStore, job: Claimed) -> str:
    """Train one claimed run and record it; returns its status."""
    a = job.attrs
    cfg = RunConfig.model_validate_json(a["config"])
    update = {"device": ctx.device}
    if ctx.data_root:
        update["data_root"] = Path(ctx.data_root)
    cfg = cfg.model_copy(update=update)
    tracker = store.start_child(ctx.experiment_id, ctx.parent_run_id, a["run_name"], {
        RUN_KEY: a["run_key"], "ganbench.cell_id": a["cell_id"], "ganbench.cell": a["cell"],
        SWEEP: ctx.study, "git_commit": ctx.git_commit, "ganbench_version": ganbench.__version__,
        "optuna_trial": str(job.number),
    })
    queue.set_attrs(job.trial_id, {"mlflow_run_id": tracker.run_id})
    params = {**RunConfig.model_validate_json(a["config"]).model_dump(mode="json",
                                                                        exclude={"data_root"}),
              "trick_list": a["cell"].split(" · ")[0]}
    tracker.log_params(params)
    try:
        result = train(cfg, tracker)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the record
        tracker.set_tags({"status": "killed", "failure_reason": "interrupted (Ctrl-C)"})
        tracker.finish("KILLED")
        queue.fail(job.trial_id, "killed", "interrupted (Ctrl-C)")
        raise
    except Exception as e:  # one broken run must not stop the sweep
        msg = f"{type(e).__name__}: {e}"
        tracker.set_tags({"status": "error", "failure_reason": msg[:4000],
                          "traceback": traceback.format_exc()[-4000:]})
        tracker.finish("FAILED")
        queue.fail(job.trial_id, "error", msg[:1000])
        return "error"
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_run_folder(result.cfg, result, Path(tmp) / "run")
        torch.save(result.g.state_dict(), folder / "generator.pt")
        tracker.log_artifacts(folder)
    if result.diverged:
        tracker.set_tags({"failure_reason": "diverged"})
        tracker.finish("FAILED")
        queue.fail(job.trial_id, "diverged", f"{result.diverged_term} non-finite at step "
                   f"{result.diverged_step}", {"diverged_step": result.diverged_step})
        return "diverged"
    value = result.metrics.get(ctx.metric, math.nan)
    tracker.finish("FINISHED")
    queue.complete(job.trial_id, value, {"metric": value if math.isfinite(value) else None,
                                         "seconds": round(result.seconds, 2)})
    return "finished"


def work(ctx: WorkerContext) -> int:
    """Pull and run until the queue is empty; returns the number of runs done."""
    torch.set_num_threads(ctx.threads)
    queue = Queue(ctx.storage, ctx.study, ctx.direction)
    store = MLflowStore(ctx.tracking_uri)
    n = 0
    while (job := queue.claim()) is not None:
        try:
            run_one(ctx, queue, store, job)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # recording failed (store down, disk full): keep the queue true
            queue.fail(job.trial_id, "error", f"{type(e).__name__}: {e}"[:1000])
        n += 1
    return n


def worker_main(ctx: WorkerContext) -> None:
    """Process entry point: quiet, and a Ctrl-C ends it without a traceback."""
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        work(ctx)
    except KeyboardInterrupt:
        pass
