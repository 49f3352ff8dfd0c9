"""What several commands share: the options sweep and worker both take, the quiet MLflow
logging, and the ranked table that sweep and report print. Commands import this module, never
each other, and it imports no command, so cli/ has no circles."""

from __future__ import annotations

import logging
import os
import shlex
import warnings
from enum import Enum
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ganbench import limits as L

console = Console()
# specs/sweep.py DEFAULT_MAX_RUNS, spelled out so that `--help` need not import the config
# models (pydantic, ~0.3 s); tests/cli/test_startup.py checks they agree.
DEFAULT_MAX_RUNS = 10_000


# Where sweeps write by default: a git-ignored folder, so a sweep (or `make demo`) run inside a
# clone never rewrites the committed reports in results/.
DEFAULT_RESULTS = Path("runs")
RESULTS = typer.Option(None, "--results", show_default=False,
                       help="Results folder: MLflow store, study journals, reports "
                       "(default: $GANBENCH_RESULTS, else runs/).")


def results_folder(given: Path | None) -> Path:
    """--results, else $GANBENCH_RESULTS, else the default."""
    if given is not None:
        return given
    if os.environ.get("GANBENCH_RESULTS"):
        return Path(os.environ["GANBENCH_RESULTS"])
    return DEFAULT_RESULTS


def absolute_uri(uri: str) -> str:
    """A storage or tracking URI that names a local file, with the file's absolute path (a
    printed command must work when pasted in another folder); any other URI as it is."""
    if "://" not in uri and not uri.startswith(("journal:", "file:")):  # a bare file path
        return str(Path(uri).resolve())
    for scheme in ("sqlite:///", "journal:", "file:"):
        rest = uri[len(scheme):]
        if uri.startswith(scheme) and not rest.startswith("/") and rest != ":memory:":
            return scheme + str(Path(rest).resolve())
    return uri


def command(*words: str | Path) -> str:
    """A command to print for pasting: paths made absolute (it works from any folder), every
    word shell-quoted."""
    return "ganbench " + " ".join(shlex.quote(str(w.resolve()) if isinstance(w, Path) else w)
                                  for w in words)


def report_where(results: Path, tracking_uri: str | None) -> tuple[str | Path, ...]:
    """The options that point `ganbench report` at a sweep's store."""
    return (("--tracking-uri", absolute_uri(tracking_uri)) if tracking_uri
            else ("--results", results))


class Vectorise(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


# Options that several commands share (one definition, one help text).
TRACKING_URI = typer.Option(None, "--tracking-uri",
                            help="MLflow tracking URI (default: <results>/mlflow.db).")
# `\\[`: rich would read [system] as markup and print pip install 'ganbench'.
SYSTEM_METRICS = typer.Option(False, "--system-metrics",
                              help="Log each run's CPU, memory and GPU use (MLflow system "
                              "metrics; needs psutil: pip install 'ganbench\\[system]').")
DEVICE = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto.")
WEIGHTS = typer.Option(None, "--weights",
                       help="Inception weights file for FID/KID/IS (see `weights`).")
# Off by default until it is measured on a GPU: on CPUs it measured no faster.
VECTORISE = typer.Option(Vectorise.off, "--vectorise",
                         help="Train a cell's queued seeds as one stacked model (auto: on GPU "
                         "workers only).")
CHECKPOINT_EVERY = typer.Option(
    5000, "--checkpoint-every", min=0, max=L.MAX_STEPS,
    help="Save a run's full training state every N steps (0: never); a re-run resumes it.")


def quiet() -> None:
    """MLflow's and alembic's INFO lines and warnings off: the commands say what matters."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # It logs each database error it re-raises with a traceback; ours is one line.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    warnings.filterwarnings("ignore", module="mlflow")


def print_ranked(rep, out: Console | None = None) -> None:
    """The ranked table(s) of a report, one per metric protocol. Below 100 columns (a CI log,
    a pipe) the counts share one column, so numbers never wrap and cell names show whole."""
    from ganbench.report.markdown import ci, num, rank_label

    out = out or console
    narrow = out.width < 100
    for g in rep.groups:
        title = "ranked summary" + (f" · protocol {g.protocol}" if g.protocol else "")
        t = Table(title=title, box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
                  pad_edge=not narrow, padding=(0, 1, 0, 0) if narrow else (0, 1))
        t.add_column("rank", no_wrap=True)
        t.add_column("cell", overflow="fold", min_width=min(
            max(len(str(c)) for c in g.ranked["cell"]) if len(g.ranked) else 4, 40))
        t.add_column("mean ± std" if narrow else f"{rep.metric} mean ± std", no_wrap=True)
        t.add_column("95% CI", no_wrap=True)
        counts = ["runs"] if narrow else ["finished", "diverged", "failed"]
        for c in counts:
            t.add_column(c, no_wrap=True)
        for _, r in g.ranked.iterrows():
            n = [str(r["n_finished"]), str(r["n_diverged"]), str(r["n_failed"])]
            t.add_row(rank_label(r), r["cell"], f"{num(r['mean'])} ± {num(r['std'])}",
                      ci(r["ci_low"], r["ci_high"]), *(["/".join(n)] if narrow else n))
        out.print(t)
        if narrow:
            out.print(f"metric: {rep.metric}; runs = finished/diverged/failed",
                      highlight=False)
        for s in g.headline:  # the verdict: the primary analysis, then the ranks
            out.print("  " + s.replace("**", ""), highlight=False)
    if len(rep.groups) > 1:
        out.print(f"[yellow]note[/]: {len(rep.groups)} metric protocols "
                      f"({rep.protocol_column}); they are ranked separately.")
