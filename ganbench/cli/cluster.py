"""`ganbench worker SWEEP` and `ganbench status SWEEP`: sweeps shared by many machines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganbench import limits as L
from ganbench.cli import checks
from ganbench.cli.common import (
    CHECKPOINT_EVERY,
    DEVICE,
    RESULTS,
    SYSTEM_METRICS,
    VECTORISE,
    WEIGHTS,
    Vectorise,
    quiet,
)
from ganbench.cli.errors import second_ctrl_c_ignored, use_weights, user_errors

console = Console()

STORAGE_HELP = ("Optuna storage URL the sweep was enqueued in "
                "(default: <results>/SWEEP/study.journal).")


@user_errors
def worker(
    sweep_name: str = typer.Argument(..., metavar="SWEEP", help="The sweep's name."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    tracking_uri: str = typer.Option(
        None, "--tracking-uri", help="MLflow tracking URI (default: the one the sweep was "
        "enqueued with)."),
    results: Path = RESULTS,
    device: str = DEVICE,
    per_gpu: int = typer.Option(1, "--per-gpu", min=1, max=L.MAX_PROCESSES,
                                help="Worker processes per GPU (packs small runs)."),
    processes: int = typer.Option(None, "--processes", min=1, max=L.MAX_PROCESSES,
                                  help="Worker processes on the CPU (default 1; with GPUs the "
                                  "default is one per GPU times --per-gpu)."),
    threads: int = typer.Option(None, "--threads", min=1, max=L.MAX_THREADS,
                                help="Torch threads per process (default: 1 for 2-D runs, else the "
                                "free cores this process may use / processes)."),
    vectorise: Vectorise = VECTORISE,
    checkpoint_every: int = CHECKPOINT_EVERY,
    heartbeat_interval: int = typer.Option(
        30, "--heartbeat-interval", min=1, max=L.MAX_SECONDS,
        help="Seconds between heartbeats (shared storage)."),
    grace_period: int = typer.Option(
        120, "--grace-period", min=1, max=L.MAX_SECONDS,
        help="Seconds without heartbeat after which a run is re-queued for another worker."),
    exit_when_empty: bool = typer.Option(
        False, "--exit-when-empty",
        help="Exit as soon as nothing is queued, instead of waiting while other workers' runs "
        "are in flight (to take over one whose worker dies)."),
    weights: Path = WEIGHTS,
    system_metrics: bool = SYSTEM_METRICS,
) -> None:
    """Pull runs of an enqueued sweep and train them until none is left.

    Start any number, on any machine, at any time. A worker that dies mid-run (SIGKILL,
    preemption) is noticed by the others through Optuna heartbeats after --grace-period; its
    run goes back to the queue and resumes from its last checkpoint.
    """
    from ganbench.sweep.runner import SweepOptions, attach, run_workers, worker_devices
    from ganbench.sweep.scheduler import Liveness

    quiet()
    use_weights(weights)
    if grace_period <= heartbeat_interval:
        raise ValueError(f"--grace-period ({grace_period}) must be longer than "
                         f"--heartbeat-interval ({heartbeat_interval})")
    checks.sweep_name(sweep_name)
    results = checks.results_dir(results)
    checks.storage(storage)
    checks.tracking_uri(tracking_uri)
    checks.device(device)
    checks.system_metrics(system_metrics)
    opts = SweepOptions(results=results, storage=storage, tracking_uri=tracking_uri,
                        device=device, checkpoint_every=checkpoint_every, vectorise=vectorise.value,
                        liveness=Liveness(heartbeat_interval, grace_period),
                        exit_when_empty=exit_when_empty, system_metrics=system_metrics)
    if tracking_uri is None:  # the server the sweep was enqueued with must answer, too
        checks.tracking_uri(_enqueued_uri(sweep_name, storage, results), "(enqueued) ")
    sw = attach(sweep_name, opts)
    from ganbench.specs import plugins

    # The sweep's plugins, here first: one that cannot be loaded (or differs) stops this
    # command with one line, before any process claims a run.
    loaded = plugins.load_recorded(sw.queue.meta.get("plugins", []))
    for note in sw.notes:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    devices = worker_devices(device, processes, per_gpu)
    c = sw.queue.counts()
    console.print(f"[bold]worker[/] for sweep {escape(sweep_name)}: {c['queued']} queued, "
                  f"{c['running']} running elsewhere; {len(devices)} process(es) on "
                  f"{', '.join(sorted(set(devices)))}"
                  + (f"; plugins {plugins.tag(loaded)}" if loaded else ""), highlight=False)

    def on_event(ev) -> None:
        r = ev.run
        if r.get("worker", "").split(":")[-1] not in pids:
            return  # another machine's run
        status = r.get("status", "?")
        color = {"finished": "green", "diverged": "red"}.get(status, "yellow")
        console.print(f"  [{color}]{status:9}[/] {escape(r.get('run_name', '?'))}", highlight=False)

    pids: set[str] = set()
    try:
        with second_ctrl_c_ignored():
            counts = run_workers(sw, opts, on_event, devices=devices, pids=pids,
                                 threads=threads)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: the runs in flight were marked killed and "
                      "will be retried by any worker.")
        raise typer.Exit(130) from None
    console.print(f"done: {counts['finished']} finished, {counts['diverged']} diverged in the "
                  f"sweep; nothing left to claim.")
    if counts["crashed_workers"]:
        raise typer.Exit(1)


def _enqueued_uri(name: str, storage: str | None, results: Path) -> str | None:
    from ganbench.sweep.scheduler import Queue, is_shared

    st = storage or str(results / name / "study.journal")
    if not is_shared(st) and not Path(st.removeprefix("journal:")).exists():
        return None  # attach() says there is no such sweep
    try:
        return Queue(st, name, None).meta.get("tracking_uri")
    except ValueError:
        return None  # attach() says what is wrong with the storage


def _ago(t: dt.datetime | None) -> str:
    if t is None:
        return "-"
    s = int((dt.datetime.now() - t).total_seconds())
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@user_errors
def status(
    sweep_name: str = typer.Argument(..., metavar="SWEEP", help="The sweep's name."),
    storage: str = typer.Option(None, "--storage", help=STORAGE_HELP),
    results: Path = RESULTS,
    failures: int = typer.Option(5, "--failures", min=0, max=10_000,
                                 help="How many recent failures to list."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI "
                                     "(default: the one the sweep was enqueued with)."),
) -> None:
    """Where a sweep stands: done / running / queued / failed / diverged, and who runs what."""
    from ganbench.sweep.scheduler import Queue, is_shared, lost_reason, status_of

    checks.sweep_name(sweep_name)
    results = checks.results_dir(results)
    checks.storage(storage)
    checks.tracking_uri(tracking_uri)
    st = storage or str(results / sweep_name / "study.journal")
    if not is_shared(st) and not Path(st.removeprefix("journal:")).exists():
        raise ValueError(f"no local sweep {sweep_name!r} (no {st}); pass --storage URL")
    q = Queue(st, sweep_name, None)
    for note in q.notes:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    c = q.counts()
    console.print(f"[bold]{escape(sweep_name)}[/]: [green]{c['finished']} done[/], "
                  f"{c['running']} running, {c['queued']} queued, [red]{c['diverged']} diverged"
                  f"[/], {c['failed']} failed attempts", highlight=False)
    _disagreements(q, tracking_uri or q.meta.get("tracking_uri"))
    from ganbench.cli.launch import print_jobs

    print_jobs(results / sweep_name, console)  # jobs a scheduler runs (`--launcher slurm`)
    if "tune" in q.meta:  # tuning: each cell's search against its budget
        from ganbench.sweep.tune_summary import search_counts

        budget = q.meta["tune"]["budget"]
        for label, k in search_counts(q, q.meta["tune"]).items():
            parts = ", ".join(f"{v} {n}" for n, v in sorted(k.items()))
            console.print(f"  search {escape(label)}: {parts} (budget {budget})",
                          highlight=False)
    seq = q.meta.get("sequential")
    if seq:  # sequential seeds: planned by `ganbench sweep` at each round
        per = ", ".join(f"{escape(c)} {n}" for c, n in seq["seeds"].items())
        console.print(f"  sequential seeds ({escape(seq['table'])}, looks at "
                      f"{', '.join(map(str, seq['looks']))}), as of the last round planned: "
                      f"{seq['open']} of {len(seq['rows'])} comparison(s) open; seeds per "
                      f"cell: {per}", highlight=False, soft_wrap=True)
        for line in seq["rows"]:
            console.print(f"    {escape(line)}", highlight=False, soft_wrap=True)
        if seq["open"]:
            console.print("  the next round is planned when `ganbench sweep FILE` runs again "
                          "(it does so by itself while its own workers run)", highlight=False,
                          soft_wrap=True)
    running = q.running()
    if running:
        t = Table("run", "worker", "running for", "attempt")
        for tr in sorted(running, key=lambda tr: tr.number):
            a = tr.user_attrs
            t.add_row(escape(a.get("run_name", "?")), escape(a.get("worker", "?")),
                      _ago(tr.datetime_start), str(len(a.get("attempt_runs", [])) + 1))
        console.print(t)
    failed = [tr for tr in q.trials() if tr.state.is_finished()
              and status_of(tr) not in ("finished", "diverged")]
    if failed and failures:
        t = Table("failed attempt", "status", "reason", title="recent failures (re-queued)")
        for tr in sorted(failed, key=lambda tr: tr.number)[-failures:]:
            a, st = tr.user_attrs, status_of(tr)
            why = a.get("failure_reason") or (lost_reason(a) if st == "lost" else "")
            t.add_row(escape(a.get("run_name", "?")), st or "?", escape(str(why)[:100]))
        console.print(t)


def _disagreements(q, uri: str | None) -> None:
    """Say where the queue and the MLflow record disagree (the record is the truth)."""
    from ganbench.store.mlflow import MLflowStore
    from ganbench.sweep.reconcile import disagreements

    if not uri:
        return
    try:
        checks.tracking_uri(uri, "(enqueued) ")  # a server that never answers: not minutes
        lines = disagreements(q, MLflowStore(uri), q.meta.get("metric", "modes"))
    except Exception as e:  # noqa: BLE001 - status still shows the queue
        why = str(e).splitlines()[0][:200] if isinstance(e, ValueError) else type(e).__name__
        console.print(f"[yellow]note[/]: cannot read the MLflow record at {escape(uri)} "
                      f"({escape(why)}); queue only", highlight=False, soft_wrap=True)
        return
    for line in lines:
        console.print(f"[red]disagreement[/]: {escape(line)}", highlight=False, soft_wrap=True)
    if lines:
        console.print("  the MLflow record is the truth: rerun `ganbench sweep FILE` to "
                      "reconcile the queue with it", highlight=False)
