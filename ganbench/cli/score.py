"""`ganbench score RUN_OR_FILE`: score a saved generator again and log it to its run."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ganbench import limits as L
from ganbench.cli import checks
from ganbench.cli.common import RESULTS, TRACKING_URI, WEIGHTS
from ganbench.cli.errors import use_weights, user_errors

console = Console()


def _value(text: str):
    """A --set value as YAML reads it (numbers, lists, null)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


@user_errors
def score(
    source: str = typer.Argument(..., help="A run folder (config.yaml + generator.pt), a "
                                 "checkpoint file, or an MLflow run id."),
    metrics: str = typer.Option(None, "--metrics",
                                help="Comma-separated: fid, kid, isc, prc, fd, labels, cis for "
                                "images; modes, modes_hq, hq, reverse_kl for 2-D data "
                                "(default: what the run was scored with)."),
    fid_samples: int = typer.Option(None, "--fid-samples", min=2, max=L.MAX_SAMPLES,
                                    help="Generated images for FID/KID/IS/PRC."),
    fid_real_samples: int = typer.Option(None, "--fid-real-samples", min=2, max=L.MAX_SAMPLES,
                                         help="Real reference images (default: the split)."),
    eval_samples: int = typer.Option(None, "--eval-samples", min=1, max=L.MAX_SAMPLES,
                                     help="Samples for the 2-D and classifier metrics."),
    repeats: int = typer.Option(None, "--repeats", min=1, max=L.MAX_EVAL_REPEATS,
                                help="Evaluation draws, each with fresh latent samples: "
                                "prints each metric's mean and sd over them (evaluation "
                                "noise); the first draw is the logged value (default: the "
                                "run's eval_repeats)."),
    sets: list[str] = typer.Option([], "--set", help="FIELD=VALUE for any other evaluation "
                                   "field of the run config (repeatable)."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
    weights: Path = WEIGHTS,
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow",
                                help="Log the scores to the generator's MLflow run."),
    results: Path = RESULTS,
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Score a saved generator again (any metric, sample count or protocol).

    The values are logged to its MLflow run as scored/<metric>, with protocol.scored/<metric>
    tags, beside the run's own metrics."""
    from ganbench import scoring
    from ganbench.metrics.draws import EVAL_MEAN, EVAL_SD  # lazy: metrics import torch

    use_weights(weights)
    checks.device(device)
    if tracking_uri is None:
        from ganbench.store.mlflow import default_tracking_uri

        store = checks.results_dir(results)
        uri = default_tracking_uri(store) if (store / "mlflow.db").is_file() else None
    else:
        checks.tracking_uri(tracking_uri)
        uri = tracking_uri
    if uri is None and scoring.RUN_ID.match(source) and not Path(source).exists():
        raise ValueError(f"{source} looks like an MLflow run id, but there is no MLflow store "
                         f"at {store / 'mlflow.db'}; pass --results or --tracking-uri")
    saved = scoring.locate(source, uri)
    overrides: dict = {}
    for item in sets:
        key, eq, text = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE, e.g. --set fid_batch_size=50")
        overrides[key.strip()] = _value(text)
    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    points = saved.cfg.dataset and _kind(saved.cfg.dataset) == "points"
    if wanted and not points:
        overrides["image_metrics"] = wanted
    for key, v in {"fid_samples": fid_samples, "fid_real_samples": fid_real_samples,
                   "eval_samples": eval_samples, "eval_repeats": repeats}.items():
        if v is not None:
            overrides[key] = v
    # Where it runs is not part of what was trained (identity=False), so any device will do.
    cfg = saved.cfg = saved.cfg.model_copy(update={"device": device})
    console.print(f"[bold]score[/] {saved.where}: {cfg.dataset} / {cfg.model} / tricks: "
                  f"{', '.join(cfg.tricks) or 'none'} / seed {cfg.seed}", highlight=False)
    result = scoring.score(saved, overrides)
    if wanted and points:
        unknown = sorted(set(wanted) - set(result.metrics))
        if unknown:
            raise ValueError(f"--metrics: {', '.join(unknown)} not a 2-D metric (2-D data is "
                             f"scored with {', '.join(sorted(result.draws[0]))})")
        result.metrics = {k: v for k, v in result.metrics.items()
                          if k in wanted or k.removesuffix(EVAL_SD).removesuffix(EVAL_MEAN)
                          in wanted}
    console.print(_table(result))
    for k, v in result.tags.items():
        if k.startswith("unavailable."):
            console.print(f"[yellow]unavailable[/] {k.split('.', 1)[1]}: {v}", highlight=False)
    if mlflow and saved.run_id:
        scoring.log_to_run(saved, result)
        console.print(f"logged to MLflow run {saved.run_id} as "
                      f"{', '.join(scoring.PREFIX + k for k in result.metrics)}", highlight=False)
    elif mlflow:
        console.print("[yellow]note[/]: this generator has no MLflow run; nothing logged",
                      highlight=False)


def _fmt(v: float | None) -> str:
    return "—" if v is None else "nan" if math.isnan(v) else f"{v:.5g}"


def _table(result) -> Table:
    """One row per metric: its value (the first draw: what is logged) and, with several
    draws, their mean and sd (evaluation noise: fresh latent samples, the same generator)."""
    from ganbench.metrics.draws import EVAL_MEAN, EVAL_SD

    k = len(result.draws)
    if k < 2:
        table = Table("metric", "value", "protocol", box=None)
        for m, v in result.metrics.items():
            table.add_row(m, _fmt(v), result.tags.get(f"protocol.{m}", ""))
        return table
    table = Table("metric", "value (draw 1)", f"mean over {k} draws", f"sd over {k} draws",
                  "protocol", box=None, title=f"evaluation noise: {k} draws of fresh latent "
                  "samples", title_justify="left")
    for m, v in result.metrics.items():
        if m.endswith((EVAL_SD, EVAL_MEAN)):
            continue
        sd = result.metrics.get(m + EVAL_SD)
        table.add_row(m, _fmt(v), _fmt(result.metrics.get(m + EVAL_MEAN)),
                      "not measured" if sd is None else _fmt(sd),
                      result.tags.get(f"protocol.{m}", ""))
    return table


def _kind(dataset: str) -> str:
    from ganbench.data import data_kind

    return data_kind(dataset)
