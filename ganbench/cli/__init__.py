"""The `ganbench` command line: thin wrappers that parse, load and call library code.

Command modules import torch, MLflow, Optuna and pandas inside the commands, so `--help`,
`--version` and a worker process that imports this package start in well under a second."""

from __future__ import annotations

import typer

from ganbench.cli import cluster as _cluster
from ganbench.cli import plugins as _plugins
from ganbench.cli import report as _report
from ganbench.cli import run as _run
from ganbench.cli import score as _score
from ganbench.cli import sweep as _sweep
from ganbench.cli import tricks as _tricks
from ganbench.cli import ui as _ui
from ganbench.cli import weights as _weights

app = typer.Typer(
    name="ganbench",
    help="Which GAN training tricks really help: train, score and compare trick combinations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from ganbench.version import __version__

        typer.echo(f"ganbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(  # noqa: B008 - typer declares options as defaults
        False, "--version", is_eager=True, callback=_version,
        help="Print ganbench's version and exit.")) -> None:
    pass


app.command("run")(_run.run)
app.command("sweep")(_sweep.sweep)
app.command("worker")(_cluster.worker)
app.command("status")(_cluster.status)
app.command("ui")(_ui.ui)
app.command("report")(_report.report)
app.command("score")(_score.score)
app.command("plugins")(_plugins.plugins)
app.add_typer(_tricks.app, name="tricks")
app.add_typer(_weights.app, name="weights")


def main() -> None:
    """The console entry point: the command, then an exit without interpreter teardown
    (about a second with torch and MLflow loaded; ganbench/procexit.py)."""
    from ganbench.procexit import run_then_exit

    run_then_exit(app)
