"""`ganbench sweep --launcher ...`: the launcher options, merged over the sweep file's
`launcher:` block (the command line wins), and a submission to a scheduler (Slurm) printed
with its job ids, log folder and the commands that follow it. The local launcher's progress
bar stays in cli/sweep.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ganbench import limits as L
from ganbench.cli.common import absolute_uri, command, report_where

console = Console()
DEFAULT_JOBS = 16  # --workers not given: one job per run waiting, at most this many
SLURM_HELP = "With --launcher slurm (or the file's `launcher:` block, which it overrides): "

LAUNCHER = typer.Option(
    None, "--launcher", show_default=False,
    help="Where the workers run: local (processes here, followed to the end; the default) or "
    "slurm (a Slurm job array through submitit, on a shared --storage and --tracking-uri; "
    "--workers is the number of jobs, default one per run waiting, at most 16). Default: "
    "the sweep file's `launcher:` block, else local.")
PARTITION = typer.Option(None, "--partition", show_default=False,
                         help=SLURM_HELP + "the Slurm partition.")
TIME = typer.Option(None, "--time", show_default=False,
                    help=SLURM_HELP + "each job's time limit, minutes or HH:MM:SS / D-HH:MM:SS "
                    "(default 24:00:00); a job stopped at its limit or preempted is requeued "
                    "and its runs resume from their checkpoints.")
GPUS = typer.Option(None, "--gpus-per-task", min=0, max=L.MAX_PROCESSES, show_default=False,
                    help=SLURM_HELP + "GPUs per job (one worker process per GPU).")
CPUS = typer.Option(None, "--cpus-per-task", min=1, max=L.MAX_THREADS, show_default=False,
                    help=SLURM_HELP + "CPU cores per job.")
PARALLEL = typer.Option(None, "--array-parallelism", min=1, max=L.MAX_PROCESSES * 16,
                        show_default=False,
                        help=SLURM_HELP + "at most this many jobs of the array at once.")

OPTION_FIELDS = {"--partition": "partition", "--time": "time", "--gpus-per-task":
                 "gpus_per_task", "--cpus-per-task": "cpus_per_task",
                 "--array-parallelism": "array_parallelism"}


def peek(spec_file: Path, given: str | None) -> str:
    """The launcher's name before the file is loaded (the local launcher starts its workers
    early): the option, else the file's `launcher.name`, else local. A file that cannot be
    read says local; loading it reports why."""
    if given is not None:
        return given
    from ganbench.yamlfile import read_yaml

    try:
        block = read_yaml(Path(spec_file))[0].get("launcher")
    except Exception:  # noqa: BLE001 - any unreadable file: loading it reports why
        return "local"
    name = block.get("name") if isinstance(block, dict) else None
    return name if isinstance(name, str) else "local"


def resolve(spec, given: str | None, options: dict[str, Any]):
    """(launcher class, LauncherSpec): the file's block with the command line's values over
    it; Slurm options with the local launcher, or an unknown launcher, are one line."""
    from pydantic import ValidationError

    from ganbench.config import LauncherSpec
    from ganbench.sweep.launchers import LAUNCHERS

    block = spec.launcher.model_dump() if spec.launcher is not None else {}
    if given is not None:
        block["name"] = given
    set_here = {flag: v for flag, v in options.items() if v is not None}
    block.update({OPTION_FIELDS[flag]: v for flag, v in set_here.items()})
    try:
        lspec = LauncherSpec.model_validate(block)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = {v: k for k, v in OPTION_FIELDS.items()}.get(field)
        where = (f"{flag} {set_here[flag]}" if flag in set_here
                 else f"launcher.{field}" if field else "launcher")
        raise ValueError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    cls = LAUNCHERS.get(lspec.name)
    if not cls.needs_shared and set_here:
        raise ValueError(f"{', '.join(set_here)}: for a scheduler's launcher; add "
                         "--launcher slurm (the local launcher runs the workers here)")
    return cls, lspec


def check(cls, lspec, storage: str | None, tracking_uri: str | None,
          workers: int | None) -> None:
    """What a launcher whose jobs run elsewhere needs, each refusal one line: the shared
    queue and record, a number of jobs, then what the launcher itself checks (sbatch)."""
    from ganbench.sweep.launch import shared_problem

    if cls.needs_shared:
        problem = shared_problem(lspec.name, storage, tracking_uri)
        if problem:
            raise ValueError(problem)
        if workers == 0:
            raise ValueError(f"--workers 0 only enqueues; with --launcher {lspec.name} "
                             "--workers is the number of jobs (default: one per run waiting, "
                             f"at most {DEFAULT_JOBS})")
    cls.check(lspec)


def submit(spec_file: Path, results: Path, opts, workers: int | None, cls, lspec,
           print_plan, sync_line) -> None:
    """Plan and enqueue on the shared queue, submit the jobs, record and print them."""
    from dataclasses import replace

    from ganbench.atomic import one_line_disk_full
    from ganbench.sweep.launch import record_submission
    from ganbench.sweep.runner import prepare
    from ganbench.sweep.storage import Liveness

    opts = replace(opts, workers=0,  # enqueue only: the data may be where the jobs run
                   liveness=Liveness(lspec.heartbeat_interval, lspec.grace_period))
    with console.status("opening the study and the MLflow store"), one_line_disk_full():
        sw = prepare(spec_file, opts)
    for note in sw.notes:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    print_plan(sw.plan, full=False)
    n = (workers if workers is not None else min(sw.sync.waiting, DEFAULT_JOBS)
         ) if sw.sync.waiting else 0
    console.print(sync_line(sw.sync, n).replace("worker(s)", f"{lspec.name} job(s)"),
                  highlight=False, soft_wrap=True)
    where = ("--results", results, "--storage", absolute_uri(sw.storage))
    follow = command("status", sw.spec.name, *where)
    report = command("report", sw.spec.name, *report_where(results, sw.store.uri))
    if sw.sync.waiting == 0:
        console.print(f"nothing to run: no job submitted. The report:\n  {report}",
                      highlight=False, soft_wrap=True)
        return
    launcher = cls(sw, opts, lspec)
    ids = launcher.submit(n)
    entry = record_submission(sw.folder, lspec.name, ids, launcher.details())
    console.print(f"submitted {len(ids)} {lspec.name} job(s): {', '.join(ids)}",
                  highlight=False, soft_wrap=True)
    if entry.get("log_folder"):
        console.print(f"logs: {entry['log_folder']}", highlight=False, soft_wrap=True)
    console.print(f"follow them with:\n  {follow}\nand write the report once runs have "
                  f"finished with:\n  {report}", highlight=False, soft_wrap=True)
    if sw.round is not None and sw.round.open:
        console.print("sequential seeds: once these jobs have finished, run this command again "
                      "to submit the next round for the comparisons still open.",
                      highlight=False, soft_wrap=True)


def print_jobs(folder: Path, out: Console) -> None:
    """`ganbench status`: each recorded submission's jobs and their states."""
    from rich.table import Table

    from ganbench.sweep.launch import JobState, read_record
    from ganbench.sweep.launchers import LAUNCHERS

    try:
        rec = read_record(folder)
    except ValueError as e:  # the queue's counts above still stand
        out.print(f"[yellow]note[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
        return
    if not rec:
        return
    t = Table("submitted", "launcher", "job", "state", title="jobs (launch.json)")
    for entry in rec["submissions"]:
        try:
            states = LAUNCHERS.get(entry["launcher"]).states(entry)
        except ValueError:  # a plugin's launcher not loaded here
            states = [JobState(str(j), "UNKNOWN (launcher not loaded here)")
                      for j in entry["jobs"]]
        for s in states:
            t.add_row(escape(str(entry.get("at", "?"))), escape(entry["launcher"]),
                      escape(s.job_id), escape(s.state))
    out.print(t)
    logs = {e.get("log_folder") for e in rec["submissions"]} - {None}
    for folder_ in sorted(logs):
        out.print(f"logs: {escape(str(folder_))}", highlight=False, soft_wrap=True)
