"""`ganbench sweep`: plan, enqueue, start workers, follow progress, summarise.

Library code prints nothing: progress goes to an `on_event` callback the CLI draws.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing.connection as mp_connection
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ganbench.atomic import write_atomic
from ganbench.config import ConfigError, SweepSpec, line_of
from ganbench.specs import plugins
from ganbench.specs.load import load_sweep_spec
from ganbench.specs.plan import Plan, PlanError, plan
from ganbench.store.mlflow import MLflowStore, default_tracking_uri
from ganbench.sweep import phases, rounds
from ganbench.sweep.scheduler import Queue
from ganbench.sweep.storage import Liveness, is_shared
from ganbench.sweep.sync import SyncReport
from ganbench.sweep.trials import Recorded
from ganbench.sweep.warm import (
    WarmWorkers,
    process_context,
    processes,
    start_all,
    stop_fork_server,
)
from ganbench.sweep.worker import EXIT_DISK_FULL, WorkerContext
from ganbench.tricks.levels import level_label

if TYPE_CHECKING:
    from ganbench.report.build import Report


@dataclass
class SweepOptions:
    results: Path = Path("runs")  # the command line's default too (cli/common.py)
    storage: str | None = None  # default: a journal file under results/<sweep>/
    tracking_uri: str | None = None  # default: sqlite:///results/mlflow.db
    workers: int = 1  # 0: enqueue only (workers elsewhere run `ganbench worker`)
    device: str = "auto"
    data_root: str | None = None
    checkpoint_every: int = 5000
    liveness: Liveness = Liveness()
    vectorise: str = "off"  # on | off | auto (on for GPU workers only)
    exit_when_empty: bool = False
    system_metrics: bool = False  # MLflow system metrics on every run


@dataclass
class Event:
    kind: str  # "run" (one run ended) | "tick" (counts changed)
    counts: dict[str, int]
    run: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sweep:
    spec: SweepSpec
    plan: Plan | None  # None for a worker attached to a sweep enqueued elsewhere
    folder: Path
    queue: Queue
    store: MLflowStore
    experiment_id: str
    parent_run_id: str
    storage: str
    sync: SyncReport
    notes: list[str] = field(default_factory=list)  # repairs made on opening, one line each
    round: Any = None  # sequential seeds: where the primary comparisons stand (rounds.Round)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_plan(spec_path: Path, data_root: str | None = None, data: str = "error") -> Plan:
    """Load and expand a sweep file; every user mistake is a ConfigError/ValueError. `data`:
    "error" refuses a plan whose data is missing here, "note" records it in `plan.notes`
    (workers elsewhere may have it), "skip" does not look."""
    spec, node = load_sweep_spec(spec_path)
    try:
        p = plan(spec)
        phases.for_spec(spec).check(spec, p)
    except PlanError as e:
        where = f"{spec_path}:{line_of(node, *e.loc)}" if e.loc else str(spec_path)
        raise ConfigError(f"{where}: {e}") from None
    if spec.sequential is not None:
        why = phases.for_spec(spec).sequential_problem()
        if why is None:
            try:
                rounds.check(p)
            except ValueError as e:
                why = str(e)
        if why:
            raise ConfigError(f"{spec_path}:{line_of(node, 'seeds')}: seeds: sequential seeds "
                              f"need a primary comparison to decide: {why}")
    if data != "skip":
        for problem in missing_data(p, spec_path, node, data_root):
            if data == "error":
                raise ConfigError(problem)
            p.notes.append(problem)
    return p


def missing_data(p: Plan, spec_path: Path, node, data_root: str | None) -> list[str]:
    """One line per distinct dataset of the plan whose data is missing here (file:line, the
    dataset, the path and how to get it): found while planning, not by every run."""
    from ganbench.data import DataUnavailableError, check_available

    out, seen = [], set()
    for c in p.cells:
        cfg = c.config
        root = Path(data_root) if data_root else cfg.data_root
        key = (cfg.dataset, json.dumps(cfg.dataset_options, sort_keys=True, default=str),
               str(root))
        if key in seen:
            continue
        seen.add(key)
        try:
            check_available(cfg.dataset, root, cfg.dataset_options)
        except DataUnavailableError as e:
            loc = ("axes", "dataset") if "dataset" in c.axes else ("base", "dataset")
            out.append(f"{spec_path}:{line_of(node, *loc)}: {'.'.join(loc)}: dataset "
                       f"{cfg.dataset!r}: {e}")
    return out


def trick_levels(p: Plan) -> dict[str, dict[str, str]]:
    """Cell id -> {trick: off | on | level label} over every trick of the sweep, so each child
    run gets one `trick.<name>` param per trick and a user can group by "ttur on vs off".
    Tricks of base.tricks are on in every cell (their parameters are in `tricks.<name>.*`)."""
    base = {n for c in p.cells for n in c.config.tricks if n not in p.spec.tricks}
    names = sorted(set(p.spec.tricks) | base)
    return {c.cell_id: {n: ("on" if n in base else "off" if n not in c.tricks
                            else level_label(n, c.tricks[n]) if c.tricks[n] else "on")
                        for n in names} for c in p.cells}


def prepare(spec_path: Path, opts: SweepOptions) -> Sweep:
    """Plan, open the study and the MLflow record, reconcile the queue with the record, and
    enqueue what has no result yet."""
    # Enqueue-only: the workers may run where the data is, so missing data here is a note.
    p = load_plan(spec_path, opts.data_root, "note" if opts.workers == 0 else "error")
    spec = p.spec
    folder = opts.results / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    storage = opts.storage or str(folder / "study.journal")
    direction = "maximize" if spec.metric.goal == "max" else "minimize"
    queue = Queue(storage, spec.name, direction, liveness=opts.liveness)
    check_growth(spec_path, spec, queue.meta)
    uri = opts.tracking_uri or default_tracking_uri(opts.results)
    store = MLflowStore(uri)
    # A tracking server decides where artifacts go; a local store keeps them beside it.
    exp = store.experiment(spec.name, opts.results / "mlartifacts" if is_local_uri(uri) else None)
    parent = store.parent_run(exp, spec.name)
    store.set_default_view(exp, spec.metric.name, spec.metric.goal, list(spec.tricks))
    rnd = None
    if spec.sequential is not None:  # this round's seeds, from the results recorded so far
        rnd = rounds.state(p, store.runs_frame(exp))
        p = rounds.trim(p, rnd)
    shared = is_shared(storage)
    if not shared:
        # One controller per local study: whatever is still RUNNING was left by a dead process.
        # (On shared storage other machines may be running them: heartbeats decide there.)
        store.close_running_children(exp, "the worker stopped mid-run (resumed sweep)")
    # Every plugin this process loaded (the file's, GANBENCH_PLUGINS', entry points'): the
    # workers load the same list, recorded before any run is queued.
    used = plugins.loaded()
    ph = phases.for_spec(spec)  # a tuned sweep queues each cell's search first
    notes = ph.enqueue(queue, storage, p, spec_path, shared)
    sync = queue.sync(ph.queued(p, queue), reclaim_running=not shared,
                      recorded=recorded(store, exp, spec.metric.name))
    queue.set_meta({"metric": spec.metric.name, "tracking_uri": uri,
                    "base": json.loads(json.dumps(spec.base, default=str)),
                    "trick_levels": trick_levels(p), "plugins": [u.record() for u in used],
                    **ph.meta(),
                    # for `ganbench status`: where the comparisons stood at this round
                    **({"sequential": {"table": rnd.table, "looks": rnd.rule.looks,
                                       "rows": rounds.describe(rnd), "seeds": rnd.targets,
                                       "open": len(rnd.open)}} if rnd else {})})
    sync = replace(sync, waiting=sync.waiting + ph.open_work(queue))
    tracker = store.tracker(parent)
    # Tags, not params: MLflow refuses to change a param, and a sweep may grow.
    tracker.set_tags({"design": spec.design, "metric": f"{spec.metric.name} ({spec.metric.goal})",
                      "git_commit": git_commit(), "n_cells": len(p.cells), "n_runs": len(p.runs),
                      "seeds": json.dumps(spec.seed_list),
                      **({plugins.TAG: plugins.tag(used)} if used else {})})
    write_atomic(folder / "spec.yaml", yaml.safe_dump(spec.model_dump(mode="json"),
                                                      sort_keys=False))
    write_atomic(folder / "plan.json", json.dumps(ph.plan_rows(p), indent=1))
    tracker.log_artifact(folder / "spec.yaml")
    tracker.log_artifact(folder / "plan.json")
    return Sweep(spec, p, folder, queue, store, exp, parent, storage, sync,
                 p.notes + queue.notes + notes, rnd)


def planned_keys(sw: Sweep) -> list[str]:
    """The run keys the report ranks: the plan's runs, or a tuned sweep's final runs so far."""
    return phases.of_meta(sw.queue.meta).keys(sw.plan, sw.queue)


def unfinished(sw: Sweep) -> int:
    """Planned runs without a result, plus a tuned sweep's open search trials."""
    return sw.queue.unresolved(planned_keys(sw)) + phases.of_meta(sw.queue.meta).open_work(
        sw.queue)


def recorded(store: MLflowStore, exp: str, metric: str) -> dict[str, Recorded]:
    return {k: Recorded(*v) for k, v in store.results(exp, metric).items()}


def check_growth(spec_path: Path, spec: SweepSpec, meta: dict[str, Any]) -> None:
    """A sweep may gain seeds, cells and axes; a changed base setting would change what the
    runs already done mean, so it is refused (a new sweep name starts afresh)."""
    if "base" not in meta:
        return
    old, new = meta["base"], json.loads(json.dumps(spec.base, default=str))
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if changed:
        diff = "; ".join(f"{k}: {old.get(k, '(unset)')!r} then, {new.get(k, '(unset)')!r} now"
                         for k in changed)
        raise ConfigError(
            f"{spec_path}: sweep {spec.name!r} was started with another base ({diff}); that "
            "would change what its finished runs mean. To run it, give the sweep a new name "
            f"(e.g. name: {spec.name}-2); to add seeds, cells or axes keep the base as it was")


def is_local_uri(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def worker_devices(device: str, workers: int | None, per_gpu: int = 1) -> list[str]:
    """One entry per worker process: `per_gpu` per visible GPU by default (device auto/cuda),
    else `workers` CPU processes (default 1)."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available() and workers is None:
        return [f"cuda:{i}" for i in range(torch.cuda.device_count()) for _ in range(per_gpu)]
    if device.startswith("cuda:") and workers is None:
        return [device] * per_gpu
    return [device] * (workers or 1)


def worker_contexts(sw: Sweep, opts: SweepOptions, devices: list[str],
                    threads: int | None = None) -> list[WorkerContext]:
    from ganbench.cores import run_threads

    # Not given: image runs share the free cores (ganbench/cores.py), 2-D runs take one.
    auto = threads is None
    threads = threads or run_threads("images", len(devices))
    base = WorkerContext(
        storage=sw.storage, study=sw.spec.name, direction=sw.queue.study.direction.name.lower(),
        tracking_uri=sw.store.uri, experiment_id=sw.experiment_id, parent_run_id=sw.parent_run_id,
        metric=sw.spec.metric.name, threads=threads, auto_threads=auto,
        data_root=opts.data_root,
        git_commit=git_commit(), checkpoint_every=opts.checkpoint_every, liveness=opts.liveness,
        exit_when_empty=opts.exit_when_empty, system_metrics=opts.system_metrics,
    )
    return [replace(base, device=d, vectorise=stack_seeds(opts.vectorise, d)) for d in devices]


def stack_seeds(mode: str, device: str) -> bool:
    """--vectorise auto: on GPUs, where one step of S stacked seeds costs about one launch
    sequence; off on CPUs, where it measured no faster at 3 seeds (results/perf/)."""
    if mode != "auto":
        return mode == "on"
    if device == "auto":
        import torch

        return torch.cuda.is_available()
    return device.startswith("cuda")


def run_workers(sw: Sweep, opts: SweepOptions,
                on_event: Callable[[Event], None] | None = None,
                devices: list[str] | None = None, pids: set[str] | None = None,
                threads: int | None = None, warm: WarmWorkers | None = None,
                on_started: Callable[[], None] | None = None) -> dict[str, int]:
    """Start one process per device entry (default: opts.workers on opts.device) and follow
    the study until they are all done. `pids` (if given) receives the workers' process ids.
    `warm`: workers already started (one per device entry), handed their contexts here.
    `on_started`: called once every worker has a pid (a Slurm job re-arms its preemption
    signal there, ignored while the workers started: sweep/launchers/slurm.py)."""
    devices = devices if devices is not None else [opts.device] * opts.workers
    contexts = worker_contexts(sw, opts, devices, threads)
    seen: set[int] = set()
    procs = warm.take(contexts) if warm is not None else processes(process_context(devices),
                                                                     contexts)
    try:
        # A worker boots (seconds of imports) with Ctrl-C ignored, so a Ctrl-C then prints no
        # traceback per worker; worker_main re-arms it, and the loop below re-sends it.
        start_all(procs)
        _preload_report()
        if pids is not None:
            pids.update(str(proc.pid) for proc in procs)
        if on_started is not None:
            on_started()
        seen |= {t.number for t in sw.queue.trials() if t.state.is_finished()}
        ph = phases.of_meta(sw.queue.meta)  # a phase's own jobs are shown as they end
        done = ph.finished(sw.queue)
        while True:
            alive = any(proc.is_alive() for proc in procs)
            _emit_new(sw.queue, seen, on_event)
            _emit_phase(sw.queue, ph, done, on_event)
            if not alive:
                break
            # Woken at once by a worker's exit (the last one's ends the sweep), else twice a
            # second to show the runs that finished.
            mp_connection.wait([proc.sentinel for proc in procs if proc.is_alive()], 0.5)
    except KeyboardInterrupt:
        for proc in procs:  # workers in our process group got it too; a second is ignored
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        for proc in procs:
            while proc.is_alive() and time.monotonic() < deadline:
                proc.join(timeout=1)
                if proc.is_alive() and proc.pid:  # still booting when the first one came
                    os.kill(proc.pid, signal.SIGINT)
            if proc.is_alive():
                proc.terminate()
        _emit_new(sw.queue, seen, on_event)
        if sw.plan is not None:  # the controller's own sweep; a worker leaves it open
            sw.store.tracker(sw.parent_run_id).finish("KILLED")
        raise
    finally:
        if not any(proc.is_alive() for proc in procs):
            stop_fork_server()
    counts = sw.queue.counts()
    counts["disk_full"] = sum(1 for proc in procs if proc.exitcode == EXIT_DISK_FULL)
    counts["crashed_workers"] = sum(1 for proc in procs if proc.exitcode not in (0, None)
                                    ) - counts["disk_full"]
    return counts


def _preload_report() -> None:
    """Import the report's modules (statsmodels, scipy, matplotlib: seconds) in the background
    while the workers train, instead of in the serial tail after the last run."""
    threading.Thread(target=importlib.import_module, args=("ganbench.report.build",),
                     name="ganbench-report-import", daemon=True).start()


def _emit_new(queue: Queue, seen: set[int], on_event) -> None:
    new = [t for t in queue.trials() if t.state.is_finished() and t.number not in seen]
    if not new:
        return
    counts = queue.counts()
    for t in sorted(new, key=lambda t: t.datetime_complete or t.datetime_start):
        seen.add(t.number)
        if on_event:
            on_event(Event("run", counts, {**t.user_attrs, "number": t.number}))


def _emit_phase(queue: Queue, ph: phases.Phases, seen: set, on_event) -> None:
    """One event per job of the sweep's own phase (a search trial) that ended since the last
    look."""
    infos = ph.events(queue, seen)
    if not infos or not on_event:
        return
    counts = queue.counts()
    for info in infos:
        on_event(Event("run", counts, info))


def attach(name: str, opts: SweepOptions) -> Sweep:
    """A worker's view of a sweep enqueued elsewhere: its study and its MLflow record.
    The tracking URI defaults to the one the sweep was enqueued with."""
    storage = opts.storage or str(opts.results / name / "study.journal")
    if not is_shared(storage) and not Path(storage.removeprefix("journal:")).exists():
        raise ConfigError(f"no local sweep {name!r} (no {storage}); pass --storage URL for a "
                          "shared one, or enqueue it with `ganbench sweep FILE --workers 0`")
    queue = Queue(storage, name, None, liveness=opts.liveness)
    meta = queue.meta
    uri = opts.tracking_uri or meta.get("tracking_uri") or default_tracking_uri(opts.results)
    store = MLflowStore(uri)
    exp = store.find_experiment(name)
    parent = store.find_parent(exp) if exp else None
    if parent is None:
        raise ConfigError(f"sweep {name!r} has no MLflow record at {uri}; pass the "
                          "--tracking-uri it was enqueued with")
    # What a worker needs of the spec: the name and the metric a finished run reports.
    spec = SweepSpec.model_validate({"name": name, "metric": {"name": meta.get("metric",
                                                                                "modes")}})
    return Sweep(spec, None, opts.results / name, queue, store, exp, parent, storage,
                 SyncReport(0, 0, 0, 0), queue.notes)


def ranked_section(markdown: str) -> str:
    """The report's "Ranked cells" section: its heading, sub-headings and tables (the prose
    under them stays in report.md)."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Ranked cells")
        if inside and (line.startswith(("#", "|")) or (not line.strip() and lines
                                                       and lines[-1].startswith("|"))):
            lines.append(line)
    return "\n".join(lines).strip()


def _describe_parent(sw: Sweep, tracker, rep: Report) -> None:
    """The parent run's description (the ranked table, shown on its page) and run counts."""
    report = sw.folder / "report.md"
    table = ranked_section(report.read_text()) if report.exists() else ""
    if report.exists():
        tracker.log_artifact(report)
    head = (f"Sweep `{sw.spec.name}`: ranked by final `{sw.spec.metric.name}` "
            f"({'higher' if sw.spec.metric.goal == 'max' else 'lower'} is better); each child "
            f"run's `score` metric is that value. The full report: artifact report.md.")
    verdict = "\n".join(f"- {s}" for g in rep.groups for s in g.headline)
    head = f"{head}\n\n**Verdict**\n\n{verdict}" if verdict else head
    sw.store.set_note(sw.parent_run_id, f"{head}\n\n{table}" if table else head)
    if rep.groups:  # every group ranks the same runs (one group per protocol): count one
        g = rep.groups[0].ranked
        counts = {f"runs/{k}": float(g[f"n_{k}"].sum())
                  for k in ("runs", "finished", "diverged", "failed") if f"n_{k}" in g}
        counts["runs/total"] = counts.pop("runs/runs", float(len(sw.plan.runs)))
        tracker.log_metrics({**counts, "cells": float(len(g))}, 0)
        tracker.flush()


def summarise(sw: Sweep, command: str) -> Report:
    """The sweep's report (from the MLflow record) plus summary.csv, the ranked table(s) in one
    file with a protocol column; both are written to results/<sweep>/ and the parent run."""
    # Imported here: the report's pandas/scipy/statsmodels/matplotlib would otherwise load in
    # the controller before any worker starts.
    from ganbench.report.build import report_sweep

    own = phases.of_meta(sw.queue.meta).record(sw.queue, sw.spec, sw.folder)
    if own is not None:  # a tuned sweep's searches (trials, best values, importances)
        sw.store.tracker(sw.parent_run_id).log_artifact(own)
    rep = report_sweep(sw.store, sw.spec.name, sw.folder, command=command,
                       keys=set(planned_keys(sw)),
                       order=[c.label for c in sw.plan.cells])
    tracker = sw.store.tracker(sw.parent_run_id)
    _describe_parent(sw, tracker, rep)
    if unfinished(sw) == 0:
        tracker.finish("FINISHED")
    return rep
