"""A worker pulls queued runs until none is left: train, record in MLflow, tell the study.

Runs in its own process (`ganbench sweep --workers N` starts N; `ganbench worker` starts one
per GPU, or as asked). A diverged run is a result; an exception in one run is recorded and the
worker goes on; Ctrl-C marks the run in flight killed (MLflow and study) before it exits.
On shared storage a heartbeat thread keeps the claimed run alive; a worker that dies
(SIGKILL, preemption) stops beating and another worker re-queues its run, which resumes from
the last checkpoint (saved every `checkpoint_every` steps as an MLflow artifact).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ganbench.atomic import DiskFullError, disk_full
from ganbench.atomic import disk_full_message as _disk_full_message
from ganbench.config import RunConfig
from ganbench.effective import resolved_params
from ganbench.outputs import write_run_folder
from ganbench.specs import plugins
from ganbench.store.mlflow import (
    RUN_KEY,
    SWEEP,
    MLflowRunTracker,
    MLflowStore,
    system_metrics,
)
from ganbench.storelock import sqlite_path
from ganbench.sweep import phases
from ganbench.sweep.scheduler import Claimed, Queue
from ganbench.sweep.storage import Liveness
from ganbench.sweep.trials import Recorded
from ganbench.train import RunResult, train
from ganbench.version import __version__


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
    auto_threads: bool = False  # threads was chosen, not given: a 2-D run takes 1 (cores.py)
    device: str = "auto"
    data_root: str | None = None
    git_commit: str = "unknown"
    checkpoint_every: int = 5000  # steps; 0 = never
    vectorise: bool = False  # train a cell's queued seeds as one stacked model
    max_stack: int = 16  # at most this many seeds in one stack
    system_metrics: bool = False  # MLflow system metrics on every run (--system-metrics)
    # Shared storage: with nothing queued, wait while other workers' runs are in flight (to
    # take over one whose worker dies) unless told to exit at once (frees a GPU allocation).
    exit_when_empty: bool = False
    liveness: Liveness = Liveness()  # used on shared (RDB) storage only
    plugins: str = ""  # the plugins this worker loaded (`name@hash, ...`), set by work()


EXIT_DISK_FULL = 28  # a worker's exit code when it stopped because the disk is full (ENOSPC)
EXIT_PLUGIN = 3  # ... when it cannot load the sweep's plugins (it claimed nothing)
_TRACKING: list[str] = []  # this worker's MLflow URI, to name the database that is full


def disk_full_message(e: BaseException) -> str:
    """The one line for a full disk, naming the file (SQLite names none: its database)."""
    db = sqlite_path(_TRACKING[0]) if _TRACKING else None
    full_db = "database or disk is full" in str(e).lower()
    return _disk_full_message(e, db if full_db and db else None)


@contextmanager
def heartbeats(queue: Queue, trial_ids: list[int]):
    """Beat for the claimed runs from a thread while the body trains (no-op on journals)."""
    if not queue.liveness:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(queue.liveness.interval):
            try:
                for trial_id in trial_ids:
                    queue.beat(trial_id)
            except Exception:  # noqa: BLE001 - a missed beat only risks a needless retry
                pass

    thread = threading.Thread(target=beat, name="ganbench-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _config(ctx: WorkerContext, job: Claimed) -> RunConfig:
    update: dict = {"device": ctx.device}
    if ctx.data_root:
        update["data_root"] = Path(ctx.data_root)
    return job.job.run_config().model_copy(update=update)


def _use_threads(ctx: WorkerContext, cfg: RunConfig) -> None:
    """Torch threads for this run: as given, or chosen for its data (ganbench/cores.py)."""
    if ctx.auto_threads:
        from ganbench.cores import run_threads
        from ganbench.data import data_kind

        torch.set_num_threads(run_threads(data_kind(cfg.dataset), cores=ctx.threads))
    else:
        torch.set_num_threads(ctx.threads)


def _open_record(ctx: WorkerContext, queue: Queue, store: MLflowStore,
                 job: Claimed) -> MLflowRunTracker:
    """The run's MLflow child run (tags, params), linked from its trial."""
    a = job.job
    tracker = store.start_child(ctx.experiment_id, ctx.parent_run_id, a.run_name, {
        RUN_KEY: a.run_key, "ganbench.cell_id": a.cell_id, "ganbench.cell": a.cell,
        SWEEP: ctx.study, "git_commit": ctx.git_commit, "ganbench_version": __version__,
        "optuna_trial": str(job.number), **({plugins.TAG: ctx.plugins} if ctx.plugins else {}),
    })
    queue.set_attrs(job.trial_id, {"mlflow_run_id": tracker.run_id})
    cfg = a.run_config()
    # A sweep's runs have no `name` (their name is the MLflow run name): not the string "None".
    drop = {"data_root", "plugins"} | ({"name"} if cfg.name is None else set())
    params = {**cfg.model_dump(mode="json", exclude=drop), "trick_list": a.trick_list}
    # One param per trick of the sweep (off / on / level label): group by it in the UI.
    # A study enqueued by an earlier release has no such map: those runs go without.
    meta = queue.meta
    levels = meta.get("trick_levels", {}).get(a.cell_id, {})
    params.update({f"trick.{n}": v for n, v in levels.items()})
    # What it trains with once its tricks' hooks ran (resolved.lr_d, ...): not in the run key.
    params.update(resolved_params(cfg))
    tracker.log_params(params)
    tags = phases.of_meta(meta).run_tags()  # a tuned sweep's queued runs: its final phase
    if tags:
        tracker.set_tags(tags)
    return tracker


def _interrupted(queue: Queue, job: Claimed, tracker: MLflowRunTracker) -> None:
    tracker.set_tags({"status": "killed", "failure_reason": "interrupted (Ctrl-C)"})
    tracker.finish("KILLED")
    queue.fail(job.trial_id, "killed", "interrupted (Ctrl-C)")
    if queue.liveness:  # shared: another worker may take it now, from its checkpoint
        queue.requeue({**job.attrs, "mlflow_run_id": tracker.run_id})


def _stopped(queue: Queue, job: Claimed, tracker: MLflowRunTracker | None, why: str) -> None:
    """Best effort (the disk may be full): close the run as interrupted, to be re-run from
    its checkpoint once the cause is gone; a later start re-queues whatever this leaves."""
    steps = [lambda: queue.fail(job.trial_id, "interrupted", why)]
    if tracker is not None:
        steps.insert(0, lambda: (tracker.set_tags({"status": "killed", "failure_reason": why}),
                                 tracker.finish("KILLED")))
    if queue.liveness:  # shared: a worker with space may take it now
        attrs = {**job.attrs, "mlflow_run_id": tracker.run_id} if tracker else job.attrs
        steps.append(lambda: queue.requeue(attrs))
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001
            pass


def _errored(queue: Queue, job: Claimed, tracker: MLflowRunTracker, e: Exception) -> str:
    msg = f"{type(e).__name__}: {e}"
    tracker.set_tags({"status": "error", "failure_reason": msg[:4000],
                      "traceback": traceback.format_exc()[-4000:]})
    tracker.finish("FAILED")
    queue.fail(job.trial_id, "error", msg[:1000])
    return "error"


def _record(ctx: WorkerContext, queue: Queue, store: MLflowStore, job: Claimed,
            tracker: MLflowRunTracker, result: RunResult) -> str:
    """Artifacts, MLflow status and the trial's outcome of one trained run."""
    if not queue.still_claimed(job.trial_id):
        # Our heartbeats were missed (a long stall) and another worker owns the retry now:
        # one finished run per (cell, seed), so this attempt does not count.
        tracker.set_tags({"status": "superseded", "failure_reason": "the run was re-queued "
                          "while this worker was unreachable; the retry is the result"})
        tracker.finish("FAILED")
        return "superseded"
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_run_folder(result.cfg, result, Path(tmp) / "run")
        torch.save(result.g.state_dict(), folder / "generator.pt")
        tracker.log_artifacts(folder)
    tracker.log_dataset(result.dataset)
    if result.diverged:
        tracker.set_tags({"failure_reason": "diverged"})
        tracker.finish("FAILED")
        queue.fail(job.trial_id, "diverged", f"{result.diverged_term} non-finite at step "
                   f"{result.diverged_step}", {"diverged_step": result.diverged_step})
        store.mark_superseded(list(job.job.attempts), tracker.run_id)
        return "diverged"
    value = result.metrics.get(ctx.metric, math.nan)
    other = store.other_result(ctx.experiment_id, job.job.run_key, tracker.run_id)
    if other:  # another attempt (re-queued while this one stalled) has the result already
        tracker.set_tags({"status": "superseded", "failure_reason": f"run {other} of the same "
                          "key finished first; one result per (cell, seed)"})
        tracker.finish("FAILED")
        queue.fail(job.trial_id, "superseded", f"run {other} finished first")
        return "superseded"
    # The ranking metric under one name in every sweep (sort the runs table by `score`),
    # logged once, at the final step.
    tracker.set_tags({"score_metric": ctx.metric,
                      "score_goal": "max" if ctx.direction == "maximize" else "min"})
    tracker.log_metrics({"score": value}, result.steps_done)  # NaN (undefined) is not logged
    # MLflow first, then the trial: a crash between them leaves an open trial whose run has a
    # result, which the next start (or the stale-run reaper) closes from the record.
    tracker.finish("FINISHED")
    queue.complete(job.trial_id, value, {"metric": value if math.isfinite(value) else None,
                                         "seconds": round(result.seconds, 2)})
    store.mark_superseded(list(job.job.attempts), tracker.run_id)
    return "finished"


def run_one(ctx: WorkerContext, queue: Queue, store: MLflowStore, job: Claimed) -> str:
    """Train one claimed run (resuming an earlier attempt's checkpoint) and record it."""
    cfg = _config(ctx, job)
    _use_threads(ctx, cfg)
    tracker = _open_record(ctx, queue, store, job)
    ckpt = store.checkpointer(tracker.run_id, ctx.checkpoint_every, list(job.job.attempts))
    try:
        with heartbeats(queue, [job.trial_id]), system_metrics(
                [tracker.run_id], ctx.tracking_uri, ctx.system_metrics):
            result = train(cfg, tracker, checkpoints=ckpt)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the record
        _interrupted(queue, job, tracker)
        raise
    except Exception as e:  # one broken run must not stop the sweep
        if disk_full(e):  # ...but a full disk stops every run: stop the worker
            _stopped(queue, job, tracker, disk_full_message(e))
            raise DiskFullError(disk_full_message(e)) from None
        return _errored(queue, job, tracker, e)
    if ckpt.resumed_from_run:
        tracker.set_tags({"resumed_from_run": ckpt.resumed_from_run})
    return _record_or_error(ctx, queue, store, job, tracker, result)


def _record_or_error(ctx: WorkerContext, queue: Queue, store: MLflowStore, job: Claimed,
                     tracker: MLflowRunTracker, result: RunResult) -> str:
    """`_record`, and if recording itself raises (a picture that cannot be drawn, say), the
    run is closed as an error with its reason rather than left RUNNING in MLflow."""
    try:
        return _record(ctx, queue, store, job, tracker, result)
    except (KeyboardInterrupt, DiskFullError):
        raise
    except Exception as e:  # noqa: BLE001 - one run's record must not stop the sweep
        if disk_full(e):
            raise
        return _errored(queue, job, tracker, e)


def run_stacked(ctx: WorkerContext, queue: Queue, store: MLflowStore,
                jobs: list[Claimed]) -> list[str]:
    """Train the claimed seeds of one cell as one stacked model (vectorised seeds) and record
    each as its own run. Each seed saves lone-format checkpoints to its own MLflow run, so a
    seed retried after a crash resumes alone (retries are never stacked)."""
    from ganbench.train.vectorised import train_vectorised

    cfgs = [_config(ctx, j) for j in jobs]
    _use_threads(ctx, cfgs[0])  # one cell: one dataset
    trackers = [_open_record(ctx, queue, store, j) for j in jobs]
    ckpts = [store.checkpointer(t.run_id, ctx.checkpoint_every) for t in trackers]
    try:
        with heartbeats(queue, [j.trial_id for j in jobs]), system_metrics(
                [t.run_id for t in trackers], ctx.tracking_uri, ctx.system_metrics):
            results = train_vectorised(cfgs, trackers, checkpoints=ckpts)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for j, t in zip(jobs, trackers, strict=True):
            _interrupted(queue, j, t)
        raise
    except Exception as e:  # noqa: BLE001 - one broken cell must not stop the sweep
        if disk_full(e):
            for j, t in zip(jobs, trackers, strict=True):
                _stopped(queue, j, t, disk_full_message(e))
            raise DiskFullError(disk_full_message(e)) from None
        return [_errored(queue, j, t, e) for j, t in zip(jobs, trackers, strict=True)]
    return [_record_or_error(ctx, queue, store, j, t, r)
            for j, t, r in zip(jobs, trackers, results, strict=True)]


def stackable(ctx: WorkerContext, job: Claimed) -> bool:
    """Whether this run may train stacked with its cell's other seeds."""
    if not ctx.vectorise or job.job.is_retry:  # a retry resumes alone
        return False
    from ganbench.train.vectorised import can_vectorise

    return can_vectorise(_config(ctx, job)) is None


def work(ctx: WorkerContext) -> int:
    """Pull and run until nothing is queued or running; returns the number of runs done.

    On shared storage a worker with nothing to claim waits while other workers' runs are in
    flight: if one of them dies, its run comes back to the queue and someone must take it
    (unless ctx.exit_when_empty; a later `ganbench worker` re-queues and takes it then)."""
    torch.set_num_threads(ctx.threads)
    _TRACKING[:] = [ctx.tracking_uri]
    store = MLflowStore(ctx.tracking_uri)

    def close_lost(attrs: dict, reason: str) -> Recorded | None:
        """A lost run's record: its result when it finished after all, else closed as lost."""
        run_id = attrs.get("mlflow_run_id")
        if not run_id:
            return None
        if phases.rerun_lost(attrs):  # a lost search trial is re-run whole, never closed
            store.close_run(run_id, "FAILED", {"status": "lost", "failure_reason": reason})
            return None
        found = store.result_of(run_id, ctx.metric)
        if found is not None:
            return Recorded(found[0], run_id, found[1])
        store.close_run(run_id, "FAILED", {"status": "lost", "failure_reason": reason})
        return None

    queue = Queue(ctx.storage, ctx.study, ctx.direction, liveness=ctx.liveness,
                  on_lost=close_lost)
    # The controller's plugins before any claim: a worker that cannot load one (or has other
    # code for it) raises PluginError here and runs nothing, rather than failing each run.
    loaded = plugins.load_recorded(queue.meta.get("plugins", []))
    ctx = replace(ctx, plugins=plugins.tag(loaded))
    ph = phases.of_meta(queue.meta)  # a tuned sweep's search trials, beside its runs
    n = 0
    while True:
        queue.reap()
        job = queue.claim()
        step = ph.when_idle(queue, ctx.storage, ctx.exit_when_empty) if job is None else None
        if isinstance(step, phases.Extra):  # a job of the sweep's own phase (a search trial)
            _run_extra(ctx, queue, store, step)
            n += 1
            continue
        if step == phases.WAIT:  # others' jobs may queue more (a cell's final runs)
            time.sleep(1.0)
            continue
        if step == phases.AGAIN:
            continue
        if job is None:
            if not queue.liveness or ctx.exit_when_empty or not queue.running():
                return n
            time.sleep(min(5.0, queue.liveness.interval))
            continue
        jobs = [job]
        if stackable(ctx, job):
            jobs += [j for j in queue.claim_cell(job.job.cell_id, ctx.max_stack - 1,
                                                 skip_retries=True)]
        try:
            if len(jobs) > 1:
                run_stacked(ctx, queue, store, jobs)
            else:
                run_one(ctx, queue, store, job)
        except (KeyboardInterrupt, DiskFullError):
            raise
        except Exception as e:  # recording failed (store down, disk full): keep the queue true
            if disk_full(e):
                for j in jobs:
                    _stopped(queue, j, None, disk_full_message(e))
                raise DiskFullError(disk_full_message(e)) from None
            for j in jobs:
                queue.fail(j.trial_id, "error", f"{type(e).__name__}: {e}"[:1000])
        n += len(jobs)


def _run_extra(ctx: WorkerContext, queue: Queue, store: MLflowStore,
               extra: phases.Extra) -> None:
    """Run one claimed job of the sweep's own phase, with its heartbeats."""
    try:
        with heartbeats(queue, [extra.trial_id]):
            extra.run(ctx, queue, store)
    except (KeyboardInterrupt, DiskFullError):
        raise
    except Exception as e:  # recording failed (store down): the trial is failed, counted
        queue.fail(extra.trial_id, "error", f"{type(e).__name__}: {e}"[:1000])


def _drop_interrupts(u, _default=sys.unraisablehook) -> None:
    # A Ctrl-C landing in a finaliser (SQLAlchemy's weakref callbacks) cannot stop the worker
    # there and Python would print a traceback; drop it: the controller sends Ctrl-C again
    # every second until the worker has stopped.
    if not isinstance(u.exc_value, KeyboardInterrupt):
        _default(u)


def process_main(ctx: WorkerContext, env: dict[str, str] | None = None) -> None:
    """A worker process's target: `worker_main`, then an exit without interpreter teardown
    (ganbench/procexit.py), which the controller would otherwise wait for. `env`: the
    controller's environment when it started this worker (a fork server's is older)."""
    from ganbench.procexit import run_then_exit
    from ganbench.sweep.orphans import watch_controller

    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    watch_controller()  # a SIGKILLed controller must not leave this worker pulling runs
    run_then_exit(lambda: worker_main(ctx))


def worker_main(ctx: WorkerContext) -> None:
    """A worker's body (in its own process, or in-process): quiet, and a Ctrl-C ends it
    without a traceback."""
    sys.unraisablehook = _drop_interrupts
    import logging
    import warnings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # It logs every database error it re-raises with a traceback; the worker reports them.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    # MlflowClient prints "View run at http://..." per run against a server; logging can't
    # silence it.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        # Booted with Ctrl-C ignored; re-armed here, inside the try, so that one arriving
        # right away ends the worker quietly (seen: one in the set-up above printed a
        # traceback in a fresh-clone run under load).
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        work(ctx)
    except KeyboardInterrupt:
        pass
    except DiskFullError as e:  # one line, not a traceback per worker; the controller says more
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_DISK_FULL)
    except plugins.PluginError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_PLUGIN)
    finally:
        # On its way out: the controller's repeated Ctrl-C must not land in multiprocessing's
        # exit finalisers, which would print a traceback (seen in a fresh-clone run under load).
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
