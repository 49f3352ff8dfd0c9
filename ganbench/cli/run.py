"""`ganbench run FILE`: train one configuration and write its run folder."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ganbench import limits as L
from ganbench.cli import checks
from ganbench.cli.common import RESULTS, SYSTEM_METRICS, TRACKING_URI, WEIGHTS
from ganbench.cli.errors import use_weights, user_errors

console = Console()


def _fmt(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) and not math.isnan(v) else f"{k} {v}"
                     for k, v in metrics.items())


@user_errors
def run(
    config: Path = typer.Argument(..., help="Run file (YAML): dataset, model, loss, tricks, ..."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Run folder (default: <results>/<file stem>-<time>)."),
    steps: int = typer.Option(None, "--steps", min=1, max=L.MAX_STEPS,
                              help="Override the file's steps."),
    seed: int = typer.Option(None, "--seed", min=0, max=L.MAX_SEED,
                             help="Override the file's seed."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1 or auto."),
    threads: int = typer.Option(None, "--threads", min=1, max=L.MAX_THREADS,
                                help="Torch threads (default: 1 for 2-D data, else the cores "
                                "this process may use that other processes leave free)."),
    weights: Path = WEIGHTS,
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow",
                                help="Record the run in the MLflow store (experiment `runs`)."),
    results: Path = RESULTS,
    tracking_uri: str = TRACKING_URI,
    system_metrics: bool = SYSTEM_METRICS,
) -> None:
    """Train one GAN configuration; write config.yaml, metrics.json, samples.png and
    generator.pt, and record the run (params, loss history, metrics, files) in MLflow."""
    import torch

    from ganbench.outputs import write_run_folder
    from ganbench.specs.load import load_run_config
    from ganbench.specs.run import caveats
    from ganbench.tracking import MemoryTracker
    from ganbench.train import train

    use_weights(weights)
    checks.system_metrics(system_metrics)
    if system_metrics and not mlflow:
        raise ValueError("--system-metrics logs to MLflow: drop --no-mlflow")
    if mlflow:
        results = checks.results_dir(results)
        checks.tracking_uri(tracking_uri)
    if device is not None:
        checks.device(device)
    if out is not None:
        checks.writable_path(out, "--out")  # before training, not after
    cfg = load_run_config(config)
    overrides = {k: v for k, v in {"steps": steps, "seed": seed, "device": device}.items()
                 if v is not None}
    if overrides:
        cfg = cfg.model_validate({**cfg.model_dump(), **overrides})
    if device is None:
        checks.device(cfg.device, f"{config}:{checks.line_in(config, 'device')}: device")
    from ganbench.cores import run_threads
    from ganbench.data import data_kind

    threads = threads or run_threads(data_kind(cfg.dataset))  # why: ganbench/cores.py
    torch.set_num_threads(threads)
    tricks = ", ".join(cfg.tricks) or "none"
    name = escape(str(config))
    console.print(f"[bold]{name}[/]: {cfg.dataset} / {cfg.model} / loss {cfg.loss} / "
                  f"tricks: {tricks} / seed {cfg.seed} / {cfg.steps} steps / "
                  f"{threads} thread{'s' if threads > 1 else ''}")
    for c in caveats(cfg):
        console.print(f"[yellow]caveat[/] {c}")
    # The run folder goes under --results, beside the MLflow record (default runs/).
    out = out or (checks.results_dir(results) / f"{config.stem[:100]}-"
                  f"{time.strftime('%Y%m%d-%H%M%S')}")
    if mlflow:
        from ganbench.store.mlflow import default_tracking_uri

        tracking_uri = tracking_uri or default_tracking_uri(results)
    tracker = _mlflow_run(cfg, config, results, tracking_uri) if mlflow else MemoryTracker()
    with Progress(TextColumn("[bold blue]train"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} steps"), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task("train", total=cfg.steps, info="")

        def on_progress(p):
            info = "  ".join(f"{k} {v:.3f}" for k, v in p.losses.items())
            bar.update(task, completed=p.step, info=f"{info}  {p.steps_per_s:.0f} it/s")
            if p.metrics:
                bar.console.print(f"  step {p.step}: {_fmt(p.metrics)}")

        if mlflow:
            from ganbench.store.mlflow import system_metrics as monitored

            with monitored([tracker.run_id], tracking_uri, system_metrics):
                result = train(cfg, tracker, on_progress)
        else:
            result = train(cfg, tracker, on_progress)
    folder = write_run_folder(result.cfg, result, out)
    torch.save(result.g.state_dict(), folder / "generator.pt")
    if mlflow:
        import json

        from ganbench.scoring import MLFLOW_RUN_FILE

        # `ganbench score FOLDER` logs to this run.
        (folder / MLFLOW_RUN_FILE).write_text(json.dumps(
            {"run_id": tracker.run_id, "tracking_uri": tracking_uri}) + "\n")
        tracker.log_artifacts(folder)
        tracker.log_dataset(result.dataset)
        tracker.finish("FAILED" if result.diverged else "FINISHED")
    if result.diverged:
        console.print(f"[bold red]diverged[/] at step {result.diverged_step}: "
                      f"{result.diverged_term} became non-finite")
    else:
        console.print(f"[bold green]finished[/] in {result.seconds:.1f}s on {result.device}  "
                      f"{_fmt(result.metrics)}")
    console.print(f"data: {result.dataset.source}\nrun folder: {folder}")
    if mlflow:
        console.print(f"MLflow: run {tracker.run_id} in experiment `runs` of {tracking_uri}",
                      highlight=False)


def _mlflow_run(cfg, config: Path, results: Path, uri: str):
    """The run's own MLflow run (experiment `runs`), with its params and provenance tags."""
    from ganbench.effective import resolved_params
    from ganbench.specs import plugins
    from ganbench.store.mlflow import MLflowStore
    from ganbench.sweep.runner import git_commit, is_local_uri
    from ganbench.version import __version__

    store = MLflowStore(uri)
    exp = store.experiment("runs", results / "mlartifacts" if is_local_uri(uri) else None)
    used = plugins.loaded()
    tracker = store.start_run(exp, cfg.name or f"{config.stem} · s{cfg.seed}", {
        "git_commit": git_commit(), "ganbench_version": __version__,
        "run_file": str(config), **({plugins.TAG: plugins.tag(used)} if used else {})})
    # As a sweep's runs: no `name` param when the file sets none (not the string "None").
    tracker.log_params({**cfg.model_dump(mode="json", exclude={"data_root", "plugins"} | (
        {"name"} if cfg.name is None else set())), **resolved_params(cfg)})
    return tracker
