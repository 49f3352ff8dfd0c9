"""`ganbench report SWEEP`: the sweep's report, rebuilt from the MLflow store alone."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ganbench.cli import checks
from ganbench.cli.common import (
    RESULTS,
    absolute_uri,
    command,
    print_ranked,
    quiet,
    report_where,
)
from ganbench.cli.errors import user_errors

console = Console()


def sweep_name(arg: str) -> str:
    """A sweep's name, or the name inside a sweep file."""
    path = Path(arg)
    try:
        exists = path.exists() and not path.is_dir()  # a FIFO is refused as a sweep file
    except OSError:  # e.g. a name too long for the file system: the name's rules say so
        exists = False
    if path.suffix in (".yaml", ".yml") or exists:
        if not exists:
            raise ValueError(f"{arg}: no such sweep file")
        from ganbench.specs.load import load_sweep_spec

        return load_sweep_spec(path)[0].name
    return checks.sweep_name(arg)


@user_errors
def report(
    sweep: str = typer.Argument(..., help="The sweep's name or its sweep file."),
    results: Path = RESULTS,
    tracking_uri: str = typer.Option(None, "--tracking-uri",
                                     help="MLflow tracking URI (default: <results>/mlflow.db)."),
    attach: bool = typer.Option(True, "--attach/--no-attach",
                                help="Also log the report on the sweep's parent run."),
) -> None:
    """Ranked table, ablations, factorial effects and plots of a sweep, from MLflow.

    Writes <results>/<sweep>/report.md, report.tex, runs.csv and PNG plots, and attaches
    them to the sweep's parent MLflow run.
    """
    from ganbench.report.build import NoRunsYet, report_sweep
    from ganbench.store.mlflow import MLflowStore, default_tracking_uri

    quiet()
    name = sweep_name(sweep)
    results = checks.results_dir(results)
    checks.tracking_uri(tracking_uri)
    uri = tracking_uri or default_tracking_uri(results)
    checks.store_exists(uri)
    # Recorded in the report as given (no machine's paths); printed absolute (pasteable).
    cmd = f"ganbench report {name}" + (f" --results {results}" if tracking_uri is None else
                                       f" --tracking-uri {tracking_uri}")
    again = command("report", name, *report_where(results, tracking_uri))
    try:
        with console.status(f"reading sweep {name} from {uri}"):
            rep = report_sweep(MLflowStore(uri), name, results / name, cmd, attach=attach)
    except NoRunsYet:
        worker = command("worker", name, "--results", results, *(
            ("--tracking-uri", absolute_uri(tracking_uri)) if tracking_uri else ()))
        raise ValueError(f"sweep {name!r} has no runs yet: start its workers with `{worker}` "
                         "(add --storage URL if it was enqueued on shared storage), then rerun "
                         f"`{again}`") from None
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: no report written; rerun `{again}`",
                      highlight=False)
        raise typer.Exit(130) from None
    print_ranked(rep)
    console.print("written: " + ", ".join(str(f) for f in rep.files), highlight=False)
