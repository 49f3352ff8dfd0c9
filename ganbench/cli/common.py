"""What several commands share: the options sweep and worker both take, the quiet MLflow
logging, and the ranked table that sweep and report print. Commands import this module, never
each other, and it imports no command, so cli/ has no circles."""

from __future__ import annotations

import logging
import os
import warnings
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
# validate_sweep.DEFAULT_MAX_RUNS, spelled out so that `--help` need not import the config
# models (pydantic, ~0.3 s); tests/cli/test_startup.py checks they agree.
DEFAULT_MAX_RUNS = 10_000


# Where sweeps write by default: a git-ignored folder, so a sweep (or `make demo`) run inside a
# clone never rewrites the committed reports in results/.
DEFAULT_RESULTS = Path("runs")
LEGACY_RESULTS = Path("results")  # the default before 0.2: its stores are still found
RESULTS = typer.Option(None, "--results", show_default=False,
                       help="Results folder: MLflow store, study journals, reports "
                       "(default: runs/).")


def results_folder(given: Path | None) -> Path:
    """--results, or the default; a store only the old default holds is used, with a note."""
    if given is not None:
        return given
    if not (DEFAULT_RESULTS / "mlflow.db").exists() and (LEGACY_RESULTS / "mlflow.db").exists():
        console.print(f"[yellow]note[/]: using {LEGACY_RESULTS}/, whose MLflow store predates "
                      f"the default {DEFAULT_RESULTS}/ (pass --results to choose)",
                      highlight=False)
        return LEGACY_RESULTS
    return DEFAULT_RESULTS


class Vectorise(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


# Options that `sweep` and `worker` share (one definition, one help text).
DEVICE = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto.")
WEIGHTS = typer.Option(None, "--weights",
                       help="Inception weights file for FID/KID/IS (see `weights`).")
# Off by default until it is measured on a GPU: on CPUs it measured no faster.
VECTORISE = typer.Option(Vectorise.off, "--vectorise",
                         help="Train a cell's queued seeds as one stacked model (auto: on GPU "
                         "workers only).")
CHECKPOINT_EVERY = typer.Option(
    5000, "--checkpoint-every", min=0,
    help="Save a run's full training state every N steps (0: never); a re-run resumes it.")


def quiet() -> None:
    """MLflow's and alembic's INFO lines and warnings off: the commands say what matters."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # It logs each database error it re-raises with a traceback; ours is one line.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    warnings.filterwarnings("ignore", module="mlflow")


def print_ranked(rep) -> None:
    """The ranked table(s) of a report, one per metric protocol."""
    from ganbench.report.markdown import ci, num, rank_label

    for g in rep.groups:
        title = "ranked summary" + (f" · protocol {g.protocol}" if g.protocol else "")
        t = Table("rank", "cell", f"{rep.metric} mean ± std", "95% t-CI", "finished",
                  "diverged", "failed", title=title)
        for _, r in g.ranked.iterrows():
            t.add_row(rank_label(r), r["cell"], f"{num(r['mean'])} ± {num(r['std'])}",
                      ci(r["ci_low"], r["ci_high"]), str(r["n_finished"]),
                      str(r["n_diverged"]), str(r["n_failed"]))
        console.print(t)
        for s in g.sentences:
            console.print(f"  {s}", highlight=False)
    if len(rep.groups) > 1:
        console.print(f"[yellow]note[/]: {len(rep.groups)} metric protocols "
                      f"({rep.protocol_column}); they are ranked separately.")
