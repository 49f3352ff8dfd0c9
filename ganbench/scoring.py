"""Score a saved generator again: another metric, sample count or protocol.

A generator comes from a run folder (`config.yaml` + `generator.pt`, what `ganbench run` and
every sweep run write), a training checkpoint (its config is inside), or an MLflow run id
(the run's `config.yaml` and `generator.pt` artifacts). Only the evaluation fields of its
config (`RunConfig.evaluation_fields()`) may change: the generator is rebuilt exactly as it
was trained, and every weights file is read with `weights_only=True`.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import ValidationError

from ganbench.config import RunConfig
from ganbench.safefile import MAX_DATA_BYTES, load_reason, read_capped, regular_file
from ganbench.train.checkpoint import MAGIC, CorruptCheckpointError, loads, payload_problem
from ganbench.train.seed import SeedRun

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# The file a run folder keeps its MLflow run in, so scoring the folder logs to that run.
MLFLOW_RUN_FILE = "mlflow_run.json"
# Scored values are logged beside a run's own metrics, never over them: their protocol may
# differ from the one the run was trained and ranked under.
PREFIX = "scored/"


@dataclass
class Saved:
    """A generator to score: the config it was trained under and its weights."""

    cfg: RunConfig
    g_state: dict[str, torch.Tensor] | None  # None: take eval_g from `checkpoint`
    where: str  # for messages and the scored_from tag
    run_id: str | None = None  # the MLflow run to log to, when known
    tracking_uri: str | None = None
    checkpoint: dict[str, Any] | None = None


@dataclass
class Scored:
    cfg: RunConfig
    metrics: dict[str, float]  # the first draw's, with <m>_eval_mean/_eval_sd when k > 1
    tags: dict[str, str] = field(default_factory=dict)
    draws: list[dict[str, float]] = field(default_factory=list)  # every draw's metrics


def _config(text: str, where: str) -> RunConfig:
    try:
        return RunConfig.model_validate(yaml.safe_load(text))
    except Exception as e:  # a hand-edited or foreign config.yaml
        first = str(e).splitlines()[0]
        raise ValueError(f"{where}: not a ganbench run config ({first})") from None


def _weights(path: Path) -> dict[str, torch.Tensor]:
    regular_file(path, "generator file", MAX_DATA_BYTES)  # a FIFO would block torch.load
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - one line, never torch's explanation
        raise ValueError(f"{path}: not a generator state dict that loads with "
                         f"weights_only=True ({load_reason(e)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f"{path}: not a generator state dict (name -> tensor)")
    return state


def from_folder(folder: Path) -> Saved:
    cfg_file, g_file = folder / "config.yaml", folder / "generator.pt"
    missing = [p.name for p in (cfg_file, g_file) if not p.is_file()]
    if missing:
        raise ValueError(f"{folder}: no {' or '.join(missing)}; give a run folder written by "
                         "`ganbench run` (or a checkpoint, or an MLflow run id)")
    text = read_capped(cfg_file, "run config", 1 << 20).decode("utf-8", "replace")
    saved = Saved(_config(text, str(cfg_file)), _weights(g_file), str(folder))
    link = folder / MLFLOW_RUN_FILE
    if link.is_file():
        try:
            rec = json.loads(link.read_text())
            saved.run_id, saved.tracking_uri = str(rec["run_id"]), str(rec["tracking_uri"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{link}: damaged (expected run_id and tracking_uri); delete it "
                             "to score without logging to MLflow") from None
    return saved


def from_checkpoint(path: Path) -> Saved:
    try:
        state = loads(read_capped(path, "checkpoint"), str(path))
    except CorruptCheckpointError as e:
        raise ValueError(str(e)) from None
    problem = payload_problem(state)  # a valid sha256 over a payload without a run config
    if problem:
        raise ValueError(f"{path}: {problem}; not a checkpoint written by a ganbench run")
    cfg = _config(state["config"], f"{path} (its config)")
    return Saved(cfg, None, str(path), checkpoint=state)


def from_mlflow(run_id: str, tracking_uri: str) -> Saved:
    from ganbench.store.mlflow import MLflowStore

    store = MLflowStore(tracking_uri)
    try:
        store.client.get_run(run_id)
    except Exception:
        raise ValueError(f"no run {run_id} in the MLflow store {tracking_uri}") from None
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = store.download_artifact(run_id, "config.yaml", Path(tmp))
        g_file = store.download_artifact(run_id, "generator.pt", Path(tmp))
        if cfg_file is None or g_file is None:
            raise ValueError(f"MLflow run {run_id} has no config.yaml and generator.pt (it did "
                             "not finish); score one of its checkpoints instead")
        cfg = _config(cfg_file.read_text(), f"run {run_id}: config.yaml")
        return Saved(cfg, _weights(g_file), f"mlflow run {run_id}", run_id, tracking_uri)


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(len(MAGIC))


def locate(source: str, tracking_uri: str | None) -> Saved:
    """A run folder, a checkpoint file, a generator.pt in a run folder, or an MLflow run id."""
    path = Path(source)
    if path.is_dir():
        return from_folder(path)
    if path.exists():  # a FIFO or a device is refused by its kind, never opened
        regular_file(path, "checkpoint file", MAX_DATA_BYTES)
        head = _head(path)
        if head == MAGIC:
            return from_checkpoint(path)
        return from_folder(path.parent)  # generator.pt beside its config.yaml
    if RUN_ID.match(source) and tracking_uri:
        return from_mlflow(source, tracking_uri)
    raise ValueError(f"{source}: no such run folder or checkpoint file, and not an MLflow run "
                     "id (32 hex digits) in the store")


def with_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """`cfg` with evaluation fields replaced; any other field is refused (the generator was
    trained under it)."""
    allowed = RunConfig.evaluation_fields()
    bad = sorted(set(overrides) - allowed)
    if bad:
        raise ValueError(f"cannot change {', '.join(bad)} when scoring: only how a run is "
                         f"scored may change ({', '.join(sorted(allowed))})")
    try:
        return RunConfig.model_validate({**cfg.model_dump(), **overrides})
    except ValidationError as e:  # one line per field, as a file's would be (limits too)
        err = e.errors()[0]
        field = ".".join(map(str, err["loc"])) or "(settings)"
        raise ValueError(f"--set {field}: {err['msg'].removeprefix('Value error, ')}") from None


def generator(saved: Saved, cfg: RunConfig) -> tuple[SeedRun, torch.nn.Module]:
    """The scoring SeedRun for `cfg` (its data and evaluators) and the saved generator in it."""
    seed = SeedRun(cfg)
    if saved.checkpoint is not None:
        # The eval generator (EMA's average, say) is rebuilt from the trained G and the tricks'
        # state; the RNG and optimiser parts of the checkpoint are not needed to score.
        seed.g.load_state_dict(saved.checkpoint["g"])
        seed.stack.load_state_dict(saved.checkpoint["tricks"])
        return seed, seed.eval_g
    try:
        seed.g.load_state_dict(saved.g_state)
    except RuntimeError as e:
        raise ValueError(f"{saved.where}: generator.pt does not fit the model its config "
                         f"builds ({str(e).splitlines()[0][:160]})") from None
    return seed, seed.g


@torch.no_grad()
def score(saved: Saved, overrides: dict[str, Any]) -> Scored:
    cfg = with_overrides(saved.cfg, overrides)
    seed, g = generator(saved, cfg)
    # eval_repeats draws of fresh latent samples, as a run's final evaluation (1: one draw)
    ev, draws = seed.evaluate_draws(g)
    if not ev and seed.data.kind != "points":
        raise ValueError("nothing to score: name image metrics with --metrics (fid, kid, isc, "
                         "prc, labels, cis)")
    return Scored(cfg, dict(ev), dict(ev.tags), draws)


def log_to_run(saved: Saved, scored: Scored, step: int | None = None) -> str:
    """Log the scores to the saved generator's MLflow run under `scored/<metric>`, their
    protocols as `protocol.scored/<metric>` tags; returns the run id."""
    from ganbench.store.mlflow import MLflowStore

    assert saved.run_id and saved.tracking_uri
    tracker = MLflowStore(saved.tracking_uri).tracker(saved.run_id)
    step = saved.cfg.steps if step is None else step
    tracker.log_metrics({PREFIX + k: v for k, v in scored.metrics.items()}, step)
    tags = {}
    for k, v in scored.tags.items():
        head, _, metric = k.partition(".")
        tags[f"{head}.{PREFIX}{metric}" if metric else k] = v
    tracker.set_tags(tags)
    tracker.flush()
    return saved.run_id
