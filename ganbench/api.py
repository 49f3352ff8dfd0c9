"""The public Python API: what `import ganbench` offers (loaded on first use).

    import ganbench

    @ganbench.register_trick("drift")
    class Drift(ganbench.Trick): ...

    ganbench.sweep("my_sweep.yaml")            # or a dict / SweepSpec
    runs = ganbench.load_runs("my-sweep")      # one row per run: a pandas DataFrame

`sweep(..., workers=1)` trains in this process, so a notebook's own tricks (registered in
`__main__`) just work. With `workers > 1` the runs go to spawned processes, which import
the sweep's plugins and every module (not `__main__`) whose names the sweep uses; a sweep
that needs a name registered in `__main__` is refused there with one line saying so.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec, explain
from ganbench.data import DATASETS
from ganbench.data.base import register_dataset
from ganbench.losses import LOSSES, register_loss
from ganbench.metrics import register_metric
from ganbench.metrics.base import METRICS
from ganbench.metrics.extractors import EXTRACTORS, FeatureExtractor, register_extractor
from ganbench.metrics.protocols import PROTOCOLS
from ganbench.models import MODELS
from ganbench.models.base import register_model
from ganbench.registry import defined_in
from ganbench.report.build import read_runs, report_sweep
from ganbench.report.frame import tidy_runs
from ganbench.report.records import Report
from ganbench.report.tables import latest_attempts
from ganbench.specs import plugins
from ganbench.specs.designs import DESIGNS, Design, register_design
from ganbench.specs.load import load_run_config
from ganbench.specs.plan import Plan
from ganbench.specs.run import validate
from ganbench.store.mlflow import MLflowStore, default_tracking_uri
from ganbench.sweep.runner import SweepOptions, load_plan, prepare, run_workers, summarise
from ganbench.sweep.runner import worker_contexts as _contexts
from ganbench.tracking import MemoryTracker
from ganbench.train import RunResult
from ganbench.train import train as _train
from ganbench.tricks import TRICKS, Trick, TrickParams
from ganbench.tricks.base import register as register_trick

__all__ = ["Design", "FeatureExtractor", "Trick", "TrickParams", "list_datasets",
           "list_designs", "list_extractors", "list_losses", "list_metrics", "list_models",
           "list_protocols", "list_tricks", "load_generator", "load_runs", "register_dataset",
           "register_design", "register_extractor", "register_loss", "register_metric",
           "register_model", "register_trick", "report", "sweep", "train"]


def _lister(reg, family: str, example: str):
    """`list_<family>(...)`: the registry's names, filtered as `Registry.names` does."""
    def lister(filter: str | list[str] | None = None, *, exclude: str | list[str] | None = None,
               origin: str | None = None, **where: Any) -> list[str]:
        return reg.names(filter, exclude=exclude, origin=origin, **where)

    lister.__name__ = lister.__qualname__ = f"list_{family}"
    lister.__doc__ = (
        f"The registered {family}' names, sorted, that match every condition given: "
        "`filter`/`exclude`, shell-style patterns on the name (or lists of them); `origin`, "
        "\"built-in\", \"plugin\" (a plugin's or a user module's) or one plugin's label; "
        "and `attribute=value` on the entries (a callable value tests the attribute), e.g. "
        f"`{example}`.")
    return lister


list_tricks = _lister(TRICKS, "tricks", 'list_tricks("*norm*", origin="built-in")')
list_models = _lister(MODELS, "models", 'list_models(data_kind="images", conditional=True)')
list_datasets = _lister(DATASETS, "datasets", 'list_datasets(kind="points")')
list_losses = _lister(LOSSES, "losses", 'list_losses(uses_targets=False)')
list_metrics = _lister(METRICS, "metrics", 'list_metrics(data_kind="images", goal="min")')
list_designs = _lister(DESIGNS, "designs", 'list_designs(factorial=True)')
list_protocols = _lister(PROTOCOLS, "protocols", 'list_protocols(split="test")')
list_extractors = _lister(EXTRACTORS, "extractors", 'list_extractors("dinov2-*")')


def load_generator(source: str | Path, tracking_uri: str | None = None):
    """A saved generator, ready to sample: from a run folder, a checkpoint, or an MLflow run
    id (with `tracking_uri`, default runs/mlflow.db). Rebuilt from the run's config and
    `generator.pt` (read with weights_only=True; a checkpoint gives its eval generator, EMA's
    average where EMA was on), on the CPU. Returns (G, config): `G(torch.randn(n,
    config.z_dim))` draws n samples."""
    from ganbench import scoring

    uri = tracking_uri or default_tracking_uri(Path("runs"))
    saved = scoring.locate(str(source), uri)
    saved.cfg = saved.cfg.model_copy(update={"device": "cpu"})
    _, g = scoring.generator(saved, saved.cfg)
    return g, saved.cfg


def train(config: RunConfig | dict[str, Any] | str | Path, tracker=None,
          progress=None) -> RunResult:
    """Train one run: a RunConfig, a dict of its fields, or a run file. Returns its
    RunResult (metrics, G, D); `tracker` defaults to an in-memory one."""
    if isinstance(config, (str, Path)):
        cfg = load_run_config(config)
    else:
        if isinstance(config, dict):
            try:
                config = RunConfig.model_validate(config)
            except ValidationError as e:
                raise ConfigError(explain(e, "<config>", None,
                                          fields=list(RunConfig.model_fields))) from None
        plugins.load_startup()
        plugins.load(config.plugins, Path.cwd(), lambda i: f"<config>: plugins[{i}]")
        cfg = validate(config)
    return _train(cfg, tracker if tracker is not None else MemoryTracker(), progress)


def sweep(spec_or_path: SweepSpec | dict[str, Any] | str | Path, workers: int = 1, *,
          results: str | Path = "runs", storage: str | None = None,
          tracking_uri: str | None = None, device: str = "cpu", vectorise: str = "off",
          checkpoint_every: int = 5000) -> Report | None:
    """Run (or resume) a sweep and return its report, as `ganbench sweep FILE` does.

    workers=1: in this process (in-notebook tricks work); N > 1: N spawned processes;
    0: only enqueue (for `ganbench worker`; returns None)."""
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    with tempfile.TemporaryDirectory(prefix="ganbench-spec-") as tmp:
        path = _spec_file(spec_or_path, Path(tmp))
        p = load_plan(path)  # loads the plugins and checks every name first
        _share_user_modules(p, workers)
        opts = SweepOptions(results=Path(results), storage=storage, tracking_uri=tracking_uri,
                            workers=workers, device=device, checkpoint_every=checkpoint_every,
                            vectorise=vectorise)
        sw = prepare(path, opts)
    if workers == 0:
        return None
    if sw.sync.waiting:
        if workers == 1:
            _work_here(sw, opts)
        else:
            run_workers(sw, opts)
    return summarise(sw, command=f"ganbench.sweep({sw.spec.name!r}, workers={workers})")


def report(sweep_name: str, *, results: str | Path = "runs", tracking_uri: str | None = None,
           attach: bool = True) -> Report:
    """Rebuild a sweep's report from the MLflow store (as `ganbench report SWEEP`)."""
    results = Path(results)
    store = _store(results, tracking_uri)
    return report_sweep(store, sweep_name, results / sweep_name,
                        f"ganbench.report({sweep_name!r})", attach=attach)


def load_runs(sweep_name: str, *, results: str | Path = "runs",
              tracking_uri: str | None = None) -> pd.DataFrame:
    """One tidy row per run of a sweep (its result, else its last attempt): run_id,
    run_name, cell, seed, status, one 0/1 column per trick (and `<trick>.<param>` where a
    trick's parameters vary), each non-trick axis, and every final metric."""
    store = _store(Path(results), tracking_uri)
    with tempfile.TemporaryDirectory(prefix="ganbench-runs-") as tmp:
        runs, metric, _, _, _, order, _, _ = read_runs(store, sweep_name, Path(tmp))
    tidy = tidy_runs(runs, metric, order)
    raw = latest_attempts(runs).set_index("run_id").loc[tidy["run_id"]]
    out = tidy[["run_id", "run_name", "cell", "seed", "status"]].copy()
    out[metric] = tidy["value"].to_numpy()
    for name, cols in _trick_columns(raw).items():
        out[name] = raw[f"params.tricks.{name}"].notna().astype(int).to_numpy() \
            if f"params.tricks.{name}" in raw else raw[cols].notna().any(axis=1).astype(
                int).to_numpy()
        for c in cols:
            values = raw[c].dropna()
            if values.nunique() > 1:
                out[c[len("params.tricks."):]] = _numeric(raw[c]).to_numpy()
    for f in tidy.attrs.get("factors", []):
        if f.kind == "axis":
            out[f.name] = tidy[f.name].to_numpy()
    finals = sorted(c for c in raw.columns if c.startswith("metrics.eval/")
                    and c.endswith("/final"))
    for c in finals:
        m = c[len("metrics.eval/"):-len("/final")]
        if m != metric:
            out[m] = pd.to_numeric(raw[c], errors="coerce").to_numpy()
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ helpers


def _numeric(s: pd.Series) -> pd.Series:
    num = pd.to_numeric(s, errors="coerce")
    return num if num.notna().sum() == s.notna().sum() else s


def _trick_columns(raw: pd.DataFrame) -> dict[str, list[str]]:
    """trick -> its parameter columns (`params.tricks.<trick>.<param>`)."""
    out: dict[str, list[str]] = {}
    for c in raw.columns:
        if c.startswith("params.tricks."):
            name, _, param = c[len("params.tricks."):].partition(".")
            out.setdefault(name, [])
            if param:
                out[name].append(c)
    return dict(sorted(out.items()))


def _store(results: Path, tracking_uri: str | None) -> MLflowStore:
    uri = tracking_uri or default_tracking_uri(results)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists():
        raise ValueError(f"no MLflow store at {uri}; pass results= (the sweep's results "
                         "folder) or tracking_uri=")
    return MLflowStore(uri)


def _spec_file(spec: SweepSpec | dict[str, Any] | str | Path, tmp: Path) -> Path:
    """A sweep file for the runner; a dict or SweepSpec is written to one (its relative
    plugin paths made absolute from the working folder)."""
    if isinstance(spec, (str, Path)):
        if not Path(spec).is_file():
            raise ValueError(f"{spec}: no such sweep file")
        return Path(spec)
    data = spec.model_dump(mode="json") if isinstance(spec, SweepSpec) else dict(spec)
    if isinstance(data.get("plugins"), list):
        data["plugins"] = [str(Path(e).resolve()) if str(e).endswith(".py") or "/" in str(e)
                           else e for e in data["plugins"]]
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _used(p: Plan) -> list[tuple[Any, str]]:
    """(registry, name) of everything the plan's runs look up."""
    out = set()
    for c in p.cells:
        cfg = c.config
        out |= {(DATASETS, cfg.dataset), (MODELS, cfg.model), (LOSSES, cfg.loss)}
        out |= {(TRICKS, t) for t in cfg.tricks}
    return sorted(out, key=lambda rn: (rn[0].kind, rn[1]))


def _share_user_modules(p: Plan, workers: int) -> None:
    """Names the sweep uses that a user's module registered outside any plugin: that module
    becomes a plugin (workers import it); `__main__` cannot be imported by a worker."""
    for reg, name in _used(p):
        if not reg.origin_of(name).startswith("module '"):
            continue
        mod = defined_in(reg.get(name)) or "?"
        importable = mod != "__main__" and getattr(sys.modules.get(mod), "__file__", None)
        if importable:
            plugins.adopt(mod)
        elif workers > 1:
            raise ValueError(
                f"{reg.kind} {name!r} is registered in {mod} (a notebook or script), which "
                f"worker processes cannot import: use workers=1 (runs in this process), or "
                f"move it to a module and list that in the sweep's plugins:")


def _work_here(sw, opts: SweepOptions) -> None:
    """One worker in this process (the caller's torch thread count is kept)."""
    import torch

    from ganbench.sweep.worker import work

    threads = torch.get_num_threads()
    try:
        work(_contexts(sw, opts, [opts.device], threads)[0])
    finally:
        torch.set_num_threads(threads)
