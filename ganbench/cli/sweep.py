"""`ganbench sweep FILE` and `ganbench ui`: the main job and its MLflow viewer."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ganbench import limits as L
from ganbench.cli import checks
from ganbench.cli import launch as launch_options
from ganbench.cli import plan as seed_plan
from ganbench.cli.common import (
    CHECKPOINT_EVERY,
    DEFAULT_MAX_RUNS,
    DEVICE,
    RESULTS,
    SYSTEM_METRICS,
    VECTORISE,
    WEIGHTS,
    Vectorise,
    absolute_uri,
    command,
    print_ranked,
    quiet,
    report_where,
)
from ganbench.cli.errors import err_console, second_ctrl_c_ignored, use_weights, user_errors

console = Console()


def print_plan(p, full: bool) -> None:
    from ganbench.effective import cell_confounds, describe, resolve
    from ganbench.specs.run import caveats

    spec = p.spec
    seq = spec.sequential
    size = (f"{len(p.cells)} cells × {len(spec.seed_list)} seeds = [bold]{len(p.runs)} runs[/]"
            if seq is None else
            f"{len(p.cells)} cells × {seq.min}–{seq.max} seeds (sequential: {seq.step} more "
            f"at a time where a primary comparison is open) = [bold]{len(p.cells) * seq.min}–"
            f"{len(p.cells) * seq.max} runs[/]")
    console.print(f"[bold]sweep {spec.name}[/]: design {spec.design}, {size}; "
                  f"ranked by {spec.metric.name} ({spec.metric.goal})")
    if spec.tune is not None:  # tuning
        t = spec.tune
        console.print(f"  tuned: {t.budget} search trials per cell ({t.sampler}, seed {t.seed}, "
                      f"{t.tune_seeds} search seed(s) each; searched: {', '.join(t.space)}), "
                      "then each cell's best over the seeds above", highlight=False)
    for label, why in p.dropped:
        console.print(f"  [yellow]dropped[/] {label}: {why}", highlight=False)
    found: dict[str, list[str]] = {}  # each caveat once, with its cells (runs get the tag)
    for c in p.cells:
        for f in caveats(c.config):
            found.setdefault(str(f), []).append(c.label)
    for f, labels in found.items():
        where = ", ".join(labels) if len(labels) <= 3 else f"{len(labels)} cells"
        console.print(f"  [yellow]caveat[/] ({where}) {f}", highlight=False)
    # What a cell's tricks change besides themselves, against its all-off cell: its row
    # measures that change too.
    for c in p.cells:
        changed = cell_confounds(c.config, c.tricks)
        if changed:
            console.print(f"  [yellow]changes[/] {escape(c.label)}: "
                          f"{escape('; '.join(changed))} (against its baseline)",
                          highlight=False)
    if full:
        t = Table("cell", "cell id", "tricks", "seeds", "effective settings")
        for c in p.cells:
            tricks = "; ".join(f"{k} {v}" if v else k for k, v in c.tricks.items()) or "-"
            seeds = (",".join(map(str, spec.seed_list)) if seq is None
                     else f"0–{seq.min - 1}, up to {seq.max - 1}")
            t.add_row(c.label, c.cell_id, tricks, seeds,
                      escape(describe(resolve(c.config))))
        console.print(t)


@user_errors
def sweep(
    spec_file: Path = typer.Argument(..., help="Sweep file (YAML): base, tricks, axes, design."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the full plan and exit."),
    workers: int = typer.Option(
        None, "--workers", "-w", min=0, max=L.MAX_PROCESSES, show_default=False,
        help="Local worker processes (default: on a CPU one per core it may use, at most one "
        "per run, each image run sharing the rest as threads; 1 on a GPU); 0 only enqueues "
        "(workers run `ganbench worker`)."),
    storage: str = typer.Option(
        None, "--storage", help="Optuna storage URL (default: <results>/<sweep>/study.journal)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri",
                                     help="MLflow tracking URI (default: <results>/mlflow.db)."),
    results: Path = RESULTS,
    device: str = DEVICE,
    weights: Path = WEIGHTS,
    vectorise: Vectorise = VECTORISE,
    checkpoint_every: int = CHECKPOINT_EVERY,
    system_metrics: bool = SYSTEM_METRICS,
    max_runs: int = typer.Option(
        DEFAULT_MAX_RUNS, "--max-runs", min=1, max=L.MAX_RUNS,
        help="Refuse a grid of more runs (cells x seeds) than this, before expanding it."),
    launcher: str = launch_options.LAUNCHER,
    partition: str = launch_options.PARTITION,
    time: str = launch_options.TIME,
    gpus_per_task: int = launch_options.GPUS,
    cpus_per_task: int = launch_options.CPUS,
    array_parallelism: int = launch_options.PARALLEL,
    plan_seeds: bool = seed_plan.PLAN_SEEDS,
    effect: float = seed_plan.EFFECT,
    power: float = seed_plan.POWER,
    sd: float = seed_plan.SD,
    ties: float = seed_plan.TIES,
    pilot: str = seed_plan.PILOT,
) -> None:
    """Train every cell of a trick grid over seeds, record each run in MLflow, rank the cells.

    Rerunning the same command resumes: finished runs are skipped, interrupted ones re-run
    from their last checkpoint, new cells (if the file grew) added. With a shared --storage
    (postgresql://...) and --workers 0 it only enqueues, for `ganbench worker` elsewhere.

    On a Slurm cluster, `--launcher slurm` enqueues on the shared --storage and
    --tracking-uri and submits --workers jobs as one job array (through submitit), each
    running `ganbench worker`; it prints the job ids, their log folder and the `ganbench
    status` / `ganbench report` commands. Preempted or timed-out jobs are requeued and their
    runs resume from their checkpoints.

    `--plan-seeds --effect E --sd S` (or `--pilot NAME`) trains nothing: it prints how many
    seeds each comparison of the primary analysis needs to find a difference of E.
    """
    from ganbench.sweep.warm import warm_workers

    quiet()
    results = checks.results_dir(results)
    if plan_seeds:  # before any worker starts: a plan trains nothing
        seed_plan.plan_seeds(spec_file, results, tracking_uri, effect, power, sd, ties, pilot)
        return
    seed_plan.refuse_without_flag(effect, sd, ties, pilot, power)
    # A new sweep's workers start first of all and import (seconds) while this process loads
    # the file, plans and opens the store; they get their contexts once the sweep is ready,
    # and are stopped unused if the file is refused. A local sweep that has a study already
    # may have nothing left to run: its workers start cold, only when needed.
    local = launch_options.peek(spec_file, launcher) == "local"
    early = (_early_workers(workers, device)
             if local and not dry_run and _new_sweep(spec_file, results, storage) else 0)
    with warm_workers(early, [device] * early) as warm:
        from ganbench.specs.load import load_sweep_spec

        use_weights(weights)
        spec, _ = load_sweep_spec(spec_file, max_runs)  # every file error, the grid's size
        cls, lspec = launch_options.resolve(spec, launcher, {
            "--partition": partition, "--time": time, "--gpus-per-task": gpus_per_task,
            "--cpus-per-task": cpus_per_task, "--array-parallelism": array_parallelism})
        launch_options.check(cls, lspec, storage, tracking_uri, workers)
        # Refused here, not by every run; enqueue-only (--workers 0) leaves it to the workers.
        checks.device(device, here=workers != 0 and not cls.needs_shared)
        if dry_run:  # the data is checked too: a dry run that passes means the sweep can start
            from ganbench.sweep.runner import load_plan

            p = load_plan(spec_file, data="note" if workers == 0 or cls.needs_shared
                          else "error")
            for note in p.notes:
                console.print(f"[yellow]note[/]: {escape(note)}", highlight=False,
                              soft_wrap=True)
            print_plan(p, full=True)
            return
        checks.storage(storage)
        checks.tracking_uri(tracking_uri)
        checks.system_metrics(system_metrics)
        if not cls.blocking:  # a scheduler's jobs: submitted, then this command is done
            from ganbench.sweep.runner import SweepOptions

            opts = SweepOptions(results=results, storage=storage, tracking_uri=tracking_uri,
                                device=device, checkpoint_every=checkpoint_every,
                                vectorise=vectorise.value, system_metrics=system_metrics)
            launch_options.submit(spec_file, results, opts, workers, cls, lspec, print_plan,
                                  sync_line)
            return
        _sweep(spec_file, results, storage, tracking_uri, workers, device, checkpoint_every,
               vectorise, warm, system_metrics, cls, lspec)


def _gpu_likely(device: str) -> bool:
    """Whether this sweep may train on a GPU, told without importing torch (the early
    workers start before it is imported): a cuda device, or auto with an NVIDIA driver."""
    import os

    if device.startswith("cuda"):
        return True
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return device == "auto" and visible not in ("", "-1") and Path("/proc/driver/nvidia").exists()


def _early_workers(workers: int | None, device: str) -> int:
    """Workers to start before the plan is known: as given, else one per allowed core on a CPU
    (trimmed to the runs waiting once the plan is read), one where a GPU may be used."""
    if workers is not None:
        return workers
    if _gpu_likely(device):
        return 1
    from ganbench.cores import cpu_workers

    return cpu_workers(L.MAX_PROCESSES)


def _chosen_workers(device: str, waiting: int) -> int:
    """--workers not given: 1 on a GPU; on a CPU the rule of ganbench/cores.py."""
    if _gpu_likely(device):
        import torch

        if device.startswith("cuda") or torch.cuda.is_available():
            return 1
    from ganbench.cores import cpu_workers

    return cpu_workers(waiting)


def _new_sweep(spec_file: Path, results: Path, storage: str | None) -> bool:
    """Whether the file names a sweep with no study yet, read before the file is loaded (a
    guess that only decides whether workers start early: a file that cannot be read says no,
    and its error comes when it is loaded)."""
    if storage is not None:
        return True
    from ganbench.limits import name_problem
    from ganbench.yamlfile import read_yaml

    try:  # read_yaml: a FIFO, /dev/zero or an alias bomb is refused here too, never read
        name = read_yaml(Path(spec_file))[0].get("name")
    except Exception:  # noqa: BLE001 - any unreadable file: loading it reports why
        return False
    return (isinstance(name, str) and name_problem(name) is None
            and not (results / name / "study.journal").exists())


def _sweep(spec_file, results, storage, tracking_uri, workers, device, checkpoint_every,
           vectorise, warm, system_metrics=False, cls=None, lspec=None) -> None:
    from ganbench.atomic import DiskFullError, one_line_disk_full
    from ganbench.sweep.runner import SweepOptions, prepare, summarise

    opts = SweepOptions(results=results, storage=storage, tracking_uri=tracking_uri,
                        workers=1 if workers is None else workers, device=device,
                        checkpoint_every=checkpoint_every, vectorise=vectorise.value,
                        system_metrics=system_metrics)
    with console.status("opening the study and the MLflow store"), one_line_disk_full():
        sw = prepare(spec_file, opts)
    if workers is None:  # chosen for this machine and the runs waiting (ganbench/cores.py)
        workers = _chosen_workers(device, sw.sync.waiting)
        opts = replace(opts, workers=workers)
        if warm.ready and warm.n != workers:
            warm.close()  # fewer runs than cores: start what is needed, cold
    for note in sw.notes:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    print_plan(sw.plan, full=False)
    print_round(sw)
    console.print(sync_line(sw.sync, workers), highlight=False, soft_wrap=True)
    # Printed commands name every path absolutely: they must work pasted in another folder.
    where = ("--results", results) + (("--storage", absolute_uri(sw.storage)) if storage else ())
    if workers == 0:
        console.print("enqueued. Start workers with:\n  " + command(
            "worker", sw.spec.name, *where, "--tracking-uri", absolute_uri(sw.store.uri))
            + "\nfollow them with:\n  " + command("status", sw.spec.name, *where)
            + "\nand write the report once runs have finished with:\n  "
            + command("report", sw.spec.name, *report_where(results, tracking_uri)),
            highlight=False, soft_wrap=True)
        if sw.round is not None and sw.round.open:
            console.print("sequential seeds: once these runs have finished, run this command "
                          "again to enqueue the next round for the comparisons still open.",
                          highlight=False, soft_wrap=True)
        return
    if sw.sync.waiting == 0:  # nothing to train: the warm workers stop unused
        warm.close()
        counts = {"crashed_workers": 0, "disk_full": 0}
    else:
        counts = _train(sw, opts, warm, cls, lspec)
    # Sequential seeds: the next round is planned from the results so far, until no
    # comparison wants more seeds (a crash or a full disk stops it: rerun to resume).
    while sw.round is not None and not (counts["disk_full"] or counts["crashed_workers"]):
        with console.status("planning the next round of seeds"), one_line_disk_full():
            sw = prepare(spec_file, opts)
        print_round(sw)
        if sw.sync.waiting == 0:
            break
        console.print(sync_line(sw.sync, opts.workers), highlight=False, soft_wrap=True)
        counts = _train(sw, opts, warm, cls, lspec)
    if counts["disk_full"]:
        raise DiskFullError(f"disk full: {counts['disk_full']} worker(s) stopped (the path "
                            "is named above); what finished is kept; free some space and "
                            "rerun the same command to resume")
    from ganbench.sweep.runner import unfinished  # a tuned sweep counts its searches too

    left = unfinished(sw)
    again = command("report", sw.spec.name, *report_where(results, tracking_uri))
    # The report records the command as given (a committed report names no machine's paths).
    recorded = f"ganbench report {sw.spec.name} " + (
        f"--tracking-uri {tracking_uri}" if tracking_uri else f"--results {results}")
    try:
        with console.status("writing the report"), one_line_disk_full():
            ran = "ganbench " + shlex.join(sys.argv[1:])  # the command as typed
            rep = summarise(sw, command=f"{ran} (rebuild: {recorded})")
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/] while writing the report: every run is kept; "
                      f"rebuild it with `{again}`.", highlight=False)
        raise typer.Exit(130) from None
    except ValueError as e:  # e.g. no run finished at all: the missing runs are the error
        if not (left or counts["crashed_workers"]):
            raise
        console.print(f"[yellow]no report[/]: {escape(str(e))}", highlight=False,
                      soft_wrap=True)
        rep = None
    if rep is not None:
        print_ranked(rep)
        console.print("written: " + ", ".join(str(f) for f in rep.files), highlight=False)
    if left or counts["crashed_workers"]:  # the exit code tells the truth: not done
        # The command as typed, in the folder it was typed in (its paths may be relative).
        resume = (f"cd {shlex.quote(str(Path.cwd()))} && ganbench {shlex.join(sys.argv[1:])}"
                  if sys.argv[1:2] == ["sweep"] else command("sweep", spec_file, "--results",
                                                              results))
        err_console.print(f"[bold red]error:[/] {left} run(s) have no result ("
                          f"{counts['crashed_workers']} worker(s) crashed; errors are tagged on "
                          f"the MLflow runs); the report covers what finished. Resume with "
                          f"`{escape(resume)}`", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _train(sw, opts, warm, cls=None, lspec=None) -> dict[str, int]:
    """Start the workers (the local launcher) and draw a progress bar until they are done."""
    from ganbench.config import LauncherSpec
    from ganbench.sweep.launchers import LAUNCHERS

    s = sw.sync
    total = len(sw.plan.runs)
    with Progress(TextColumn("[bold blue]sweep"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("sweep", total=total, completed=min(s.done, total))

        def on_event(ev):
            r = ev.run
            status = r.get("status", "?")
            color = {"finished": "green", "diverged": "red"}.get(status, "yellow")
            metric = r.get("metric")
            extra = (f"{sw.spec.metric.name} {metric:.4g}" if isinstance(metric, (int, float))
                     else r.get("failure_reason", ""))
            bar.console.print(f"  [{color}]{status:8}[/] {r.get('run_name', '?')}  {extra}",
                              highlight=False)
            bar.update(task, completed=min(total, ev.counts["finished"] + ev.counts["diverged"]))

        try:
            with second_ctrl_c_ignored():
                launcher = (cls or LAUNCHERS.get("local"))(
                    sw, opts, lspec or LauncherSpec(), on_event=on_event,
                    warm=warm if warm.ready else None)
                launcher.submit(opts.workers)
                return launcher.counts
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: finished runs are kept; rerun the same "
                          "command to resume.")
            raise typer.Exit(130) from None


def print_round(sw) -> None:
    """Sequential seeds: each primary comparison's state and the seeds each cell has now."""
    if sw.round is None:
        return
    from ganbench.sweep.rounds import describe

    rnd = sw.round
    seeds = sorted(set(rnd.targets.values()))
    console.print(f"sequential seeds ({rnd.table}, looks at "
                  f"{', '.join(map(str, rnd.rule.looks))}): cells at "
                  f"{'–'.join(map(str, (seeds[0], seeds[-1]) if len(seeds) > 1 else seeds))} "
                  f"seeds, {len(rnd.open)} of {len(rnd.rows)} comparison(s) open",
                  highlight=False, soft_wrap=True)
    for line in describe(rnd):
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


def sync_line(s, workers: int) -> str:
    """What the start found: results, what runs now and why (errors are not interruptions)."""
    why = []
    if s.requeued:
        why.append(f"{s.requeued} re-queued after an interruption")
    if s.errors:
        first = s.errors[0].splitlines()[0][:160] if s.errors[0] else "error"
        more = f"; first: {first}" if len(s.errors) > 1 else f": {first}"
        why.append(f"{len(s.errors)} re-run after an error{more}")
    if s.missing:
        why.append(f"{s.missing} re-run: the queue had a result their MLflow record lacks")
    if s.closed:
        why.append(f"{s.closed} closed from the MLflow record")
    return (f"  {s.done} runs already have results, {s.waiting} to run"
            + (f" ({'; '.join(why)})" if why else "") + f"; {workers} worker(s)")
