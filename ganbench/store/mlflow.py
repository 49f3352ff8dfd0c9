"""MLflow record of sweeps: one experiment per sweep, a parent run, one child run per (cell, seed).

The only module that imports mlflow. Uses MlflowClient (explicit run ids) rather than the
fluent API, so several worker processes can write to one store at once; SQLite's "database
is locked" under concurrent writers is retried, never surfaced.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Dataset as MLflowDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from ganbench.store.check import check_store_file
from ganbench.tracking.base import flatten  # noqa: F401  (MLflow params; importable here too)

ROLE, SWEEP, RUN_KEY = "ganbench.role", "ganbench.sweep", "ganbench.run_key"
# The shared runs-table view every sweep's experiment carries (see set_default_view).
VIEW_TAG, VIEW_KEY = "mlflow.sharedViewState.", "ganbench"


def view_url(base: str, exp_id: str) -> str:
    """The sweep's runs table in the MLflow UI at `base`, in its shared view, in the UI's
    model-training mode (3.x opens an experiment on a GenAI traces page otherwise)."""
    return (f"{base.rstrip('/')}/#/experiments/{exp_id}/runs?viewStateShareKey={VIEW_KEY}"
            "&workflowType=machine_learning")


def default_tracking_uri(results: Path) -> str:
    return f"sqlite:///{(results / 'mlflow.db').resolve()}"


def _retry(fn, *args, attempts: int = 12, **kwargs):
    """Retry transient store errors (SQLite writer lock, a migrating schema) with backoff."""
    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - filtered by message below
            text = str(e).lower()
            transient = "locked" in text or "busy" in text or "unique constraint" in text
            if not transient or i == attempts - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**i) * (0.5 + random.random()))


def _name_full_path(e: BaseException, client: MlflowClient, run_id: str, rel: str) -> None:
    """Give a disk-full OSError that names no file (shutil's copies) the artifact's path."""
    if not isinstance(e, OSError) or e.errno != errno.ENOSPC or e.filename:
        return
    try:
        root = client.get_run(run_id).info.artifact_uri.removeprefix("file://")
    except Exception:  # noqa: BLE001
        root = f"the artifacts of run {run_id}"
    e.filename = f"{root}/{rel}"


def _result_status(mlflow_status: Any, tag_status: Any) -> str | None:
    if mlflow_status == "FINISHED":
        return "finished"
    if mlflow_status == "FAILED" and tag_status == "diverged":
        return "diverged"
    return None


class MLflowRunTracker:
    """A Tracker (see tracking/base.py) writing to one MLflow run."""

    FLUSH_SECONDS = 10.0  # metrics reach the store at least this often, and at the end

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self._pending: list[Metric] = []
        self._flushed = time.monotonic()

    def flush(self) -> None:
        """Write buffered metrics in batches (one store transaction per 1000 values)."""
        items, self._pending = self._pending, []
        for i in range(0, len(items), 1000):
            _retry(self.client.log_batch, self.run_id, metrics=items[i : i + 1000])
        self._flushed = time.monotonic()

    def log_params(self, params: dict[str, Any]) -> None:
        items = [Param(k, v[:6000]) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, self.run_id, params=items[i : i + 100])

    def set_tags(self, tags: dict[str, str]) -> None:
        _retry(self.client.log_batch, self.run_id,
               tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        # Buffered: one SQLite transaction per logging window would dominate short runs.
        now = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now, step) for k, v in metrics.items()
                          if not math.isnan(float(v))]
        if time.monotonic() - self._flushed > self.FLUSH_SECONDS:
            self.flush()

    def log_artifact(self, path: Path) -> None:
        try:
            _retry(self.client.log_artifact, self.run_id, str(path))
        except OSError as e:
            _name_full_path(e, self.client, self.run_id, Path(path).name)
            raise

    def log_artifacts(self, folder: Path) -> None:
        try:
            _retry(self.client.log_artifacts, self.run_id, str(folder))
        except OSError as e:
            _name_full_path(e, self.client, self.run_id, "")
            raise

    def log_dataset(self, data: Any) -> None:
        """The run's training data as an MLflow dataset input (the runs table's Dataset
        column): name, where it came from and a digest of its contents."""
        digest, profile = dataset_digest(data)
        ds = MLflowDataset(name=data.name, digest=digest, source_type="ganbench",
                           source=json.dumps({"source": data.source}), profile=profile)
        _retry(self.client.log_inputs, self.run_id,
               [DatasetInput(ds, [InputTag("mlflow.data.context", "train")])])

    def finish(self, status: str) -> None:
        """status: FINISHED | FAILED | KILLED."""
        self.flush()
        _retry(self.client.set_terminated, self.run_id, status)


# Sampling interval of --system-metrics ($GANBENCH_SYSTEM_METRICS_SECONDS overrides).
SYSTEM_METRICS_SECONDS = float(os.environ.get("GANBENCH_SYSTEM_METRICS_SECONDS", "10"))


@contextmanager
def system_metrics(run_ids: list[str], tracking_uri: str, on: bool = True) -> Iterator[None]:
    """MLflow's system metrics (CPU, memory, disk, network; GPU with nvidia-ml-py) logged to
    each run while the body trains, every SYSTEM_METRICS_SECONDS (`--system-metrics`)."""
    if not on:
        yield
        return
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    monitors = [SystemMetricsMonitor(r, sampling_interval=SYSTEM_METRICS_SECONDS,
                                     tracking_uri=tracking_uri) for r in run_ids]
    for m in monitors:
        m.start()
    try:
        yield
    finally:
        for m in monitors:
            m.finish()


_DIGESTS: dict[tuple, tuple[str, str]] = {}


def dataset_digest(data: Any) -> tuple[str, str]:
    """(sha256 of the data's tensors, 12 hex digits; a JSON profile), once per process for a
    loaded dataset: hashing MNIST's 47 MB takes ~0.1 s, a warm worker's later runs pay
    nothing."""
    import hashlib

    tensors = [t for t in (data.images, data.labels, data.modes) if t is not None]
    key = (data.name, data.source, tuple((t.data_ptr(), tuple(t.shape)) for t in tensors))
    if key not in _DIGESTS:
        h = hashlib.sha256()
        for t in tensors:  # a view of the tensor's memory, not a copy of it (STL-10: 2.9 GB)
            h.update(memoryview(t.detach().cpu().contiguous().numpy()).cast("B"))
        if data.mode_std is not None:
            h.update(repr(float(data.mode_std)).encode())
        rows = len(data.images) if data.images is not None else None
        profile = {"kind": data.kind, "shape": list(data.shape), "num_rows": rows}
        _DIGESTS[key] = (h.hexdigest()[:12], json.dumps(profile))
    return _DIGESTS[key]


class MLflowCheckpointer:
    """Training checkpoints as artifacts of the run's own MLflow run (`checkpoint/step_N.pt`),
    so they live wherever the record lives (a local folder, shared storage or S3 behind
    `mlflow server`) and any machine can resume them. `load()` looks at the earlier attempts
    of the same run, newest first, and falls back to an older checkpoint when the newest one
    cannot be read (a worker killed mid-upload)."""

    FOLDER = "checkpoint"

    def __init__(self, client: MlflowClient, run_id: str, every: int,
                 earlier_runs: list[str] | None = None) -> None:
        self.client, self.run_id, self.every = client, run_id, every
        self.earlier = list(earlier_runs or [])
        self.resumed_from_run: str | None = None
        self.corrupt: list[str] = []  # damaged checkpoints load() skipped
        self._saved: list[str] = []
        self._repo = None  # the run's artifact repository, once a checkpoint is deleted

    def save(self, state: dict[str, Any], step: int) -> None:
        from ganbench.train.checkpoint import dumps

        name = f"step_{step:09d}.pt"  # zero-padded: names sort by step
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(dumps(state))  # checksummed: a damaged copy is refused on load
            try:
                _retry(self.client.log_artifact, self.run_id, str(path), self.FOLDER)
            except BaseException as e:
                self._delete(name)  # a disk full mid-copy leaves no half file behind
                _name_full_path(e, self.client, self.run_id, f"{self.FOLDER}/{name}")
                raise
        self._saved.append(name)
        for old in self._saved[:-2]:  # keep two: the newest may be cut off by a kill
            self._delete(old)
        self._saved = self._saved[-2:]

    def _delete(self, name: str) -> None:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        try:  # a store that cannot delete keeps it; only disk space is lost
            if self._repo is None:  # one run lookup per run, not per checkpoint
                uri = _retry(self.client.get_run, self.run_id).info.artifact_uri
                self._repo = get_artifact_repository(uri)
            self._repo.delete_artifacts(f"{self.FOLDER}/{name}")
        except Exception:  # noqa: BLE001
            pass

    def load(self) -> dict[str, Any] | None:
        from ganbench.train.checkpoint import CorruptCheckpointError, loads

        for run in reversed(self.earlier):
            try:
                names = sorted((f.path for f in _retry(self.client.list_artifacts, run,
                                                        self.FOLDER)), reverse=True)
            except MlflowException:
                continue
            for name in names:
                with tempfile.TemporaryDirectory() as tmp:
                    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
                    try:
                        local = _retry(self.client.download_artifacts, run, name, tmp)
                        state = loads(Path(local).read_bytes(), f"run {run}: {name}")
                    except CorruptCheckpointError as e:  # damaged: try the one before
                        self.corrupt.append(str(e))
                        continue
                    except Exception:  # noqa: BLE001 - unreadable: try the one before
                        continue
                self.resumed_from_run = run
                return state
        return None


def _create_whole(db: Path) -> None:
    """A new store's migrations run on a temporary file that is renamed in when complete: a
    full disk mid-migration left a half-migrated mlflow.db that failed every later command."""
    tmp = db.with_name(f".{db.name}.{os.getpid()}.new")
    tmp_uri = f"sqlite:///{tmp}"
    try:
        MlflowClient(tracking_uri=tmp_uri)
        _dispose(tmp_uri)
        os.replace(tmp, db)
    except BaseException:
        _dispose(tmp_uri)
        tmp.unlink(missing_ok=True)
        raise


def _dispose(uri: str) -> None:
    """Close MLflow's pooled engine of `uri` (it keeps one per URI, holding the file open)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)
    if engine is not None:
        engine.dispose()


def _open_client(uri: str) -> MlflowClient:
    """The client of the store at `uri`; a new local SQLite store starts as a copy of the
    empty template (store/template.py) rather than by running every migration."""
    from ganbench.store import template as store_template
    from ganbench.storelock import sqlite_path

    db = sqlite_path(uri)
    if db is not None and db.exists():
        check_store_file(db)  # damaged: one line naming it, not MLflow's traceback
    if db is None or db.exists():
        return MlflowClient(tracking_uri=uri)
    if not store_template.seed(db):
        db.parent.mkdir(parents=True, exist_ok=True)
        _create_whole(db)
        client = MlflowClient(tracking_uri=uri)
        store_template.save(db)
        return client
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception:  # noqa: BLE001 - a template MLflow refuses: this store afresh, drop it
        _dispose(uri)  # its pooled connection would still read that file
        db.unlink(missing_ok=True)
        store_template.discard()
        return MlflowClient(tracking_uri=uri)


class MLflowStore:
    def __init__(self, tracking_uri: str) -> None:
        from ganbench.storelock import first_creation_lock

        self.uri = tracking_uri
        # Making the client makes the store (its tables, on a fresh SQLite file); two processes
        # doing that at once race ("table params already exists"): one at a time.
        with first_creation_lock(tracking_uri):
            self.client = _open_client(tracking_uri)

    def experiment(self, name: str, artifact_root: Path | None = None) -> str:
        exp = _retry(self.client.get_experiment_by_name, name)
        if exp is not None:
            return exp.experiment_id
        location = (artifact_root / name).resolve().as_uri() if artifact_root else None
        try:
            return _retry(self.client.create_experiment, name, artifact_location=location)
        except MlflowException:  # another process created it first
            return _retry(self.client.get_experiment_by_name, name).experiment_id

    def set_default_view(self, exp_id: str, metric: str, goal: str, tricks: list[str]) -> None:
        """A shared view of the sweep's runs table (MLflow UI >= 3.x: the experiment tag
        `mlflow.sharedViewState.<key>`, opened by `view_url`): child runs only, sorted by
        `score` best first, with the score, the ranking metric's final value, the seed, one
        on/off column per trick and the dataset shown (MLflow hides every metric and param
        column of a plain runs table)."""
        cols = ["metrics.`score`", f"metrics.`eval/{metric}/final`", "params.`seed`",
                *(f"params.`trick.{t}`" for t in tricks), "attributes.`Dataset`"]
        state = {"orderByKey": "metrics.`score`", "orderByAsc": goal == "min",
                 "searchFilter": f"tags.`{ROLE}` = 'run'", "selectedColumns": cols}
        _retry(self.client.set_experiment_tag, exp_id, VIEW_TAG + VIEW_KEY, json.dumps(state))

    def parent_run(self, exp_id: str, sweep: str) -> str:
        """The sweep's parent run, reused when a sweep is resumed or extended."""
        run_id = self.find_parent(exp_id)
        if run_id:
            _retry(self.client.update_run, run_id, status="RUNNING")
            return run_id
        run = _retry(self.client.create_run, exp_id, run_name=f"sweep {sweep}",
                     tags={ROLE: "sweep", SWEEP: sweep})
        return run.info.run_id

    def start_child(self, exp_id: str, parent_id: str, run_name: str,
                    tags: dict[str, str]) -> MLflowRunTracker:
        run = _retry(self.client.create_run, exp_id, run_name=run_name,
                     tags={"mlflow.parentRunId": parent_id, ROLE: "run", **tags})
        return MLflowRunTracker(self.client, run.info.run_id)

    def start_run(self, exp_id: str, run_name: str, tags: dict[str, str]) -> MLflowRunTracker:
        """A run of its own (`ganbench run`), not a sweep's child."""
        run = _retry(self.client.create_run, exp_id, run_name=run_name,
                     tags={ROLE: "run", **tags})
        return MLflowRunTracker(self.client, run.info.run_id)

    def set_note(self, run_id: str, markdown: str, limit: int = 7900) -> None:
        """The run's description (`mlflow.note.content`, markdown on the run's page); cut at a
        line under MLflow's tag length limit (8000)."""
        if len(markdown) > limit:
            cut = markdown[: limit - 60].rsplit("\n", 1)[0]
            markdown = cut + "\n\n… (cut here: the full table is in report.md)"
        _retry(self.client.set_tag, run_id, "mlflow.note.content", markdown)

    def tracker(self, run_id: str) -> MLflowRunTracker:
        return MLflowRunTracker(self.client, run_id)

    def checkpointer(self, run_id: str, every: int,
                     earlier_runs: list[str] | None = None) -> MLflowCheckpointer:
        return MLflowCheckpointer(self.client, run_id, every, earlier_runs)

    def close_run(self, run_id: str, status: str, tags: dict[str, str]) -> None:
        """Close another process's run (e.g. one whose worker died) if it is still open."""
        run = _retry(self.client.get_run, run_id)
        if run.info.status in ("RUNNING", "SCHEDULED"):
            t = self.tracker(run_id)
            t.set_tags(tags)
            t.finish(status)

    def mark_superseded(self, attempts: list[str], by: str) -> None:
        """Tag and rename the earlier attempts of a run that now has its result (`by`), so the
        runs table tells them apart: "ttur · s1 (attempt 1, killed)". Best effort."""
        for i, run_id in enumerate(attempts, 1):
            try:
                run = _retry(self.client.get_run, run_id)
                why = run.data.tags.get("status") or run.info.status.lower()
                name = run.info.run_name or ""
                if " (attempt " not in name:
                    _retry(self.client.update_run, run_id, name=f"{name} (attempt {i}, {why})")
                self.tracker(run_id).set_tags({"superseded": "true", "superseded_by": by})
            except Exception:  # noqa: BLE001 - a deleted or unreachable attempt keeps its name
                continue

    def close_running_children(self, exp_id: str, reason: str) -> int:
        """Mark child runs left RUNNING by a dead process as KILLED, with the reason."""
        stale = _retry(self.client.search_runs, [exp_id], max_results=5000,
                       filter_string=f"tags.`{ROLE}` = 'run' and attributes.status = 'RUNNING'")
        for r in stale:
            t = self.tracker(r.info.run_id)
            t.set_tags({"status": "killed", "failure_reason": reason})
            t.finish("KILLED")
        return len(stale)

    def runs_frame(self, exp_id: str) -> pd.DataFrame:
        """Every child run as a row: run_id, status, name, params.*, tags.*, metrics.*."""
        rows, token = [], None
        while True:
            page = _retry(self.client.search_runs, [exp_id], max_results=1000,
                          filter_string=f"tags.`{ROLE}` = 'run'", page_token=token)
            for r in page:
                row = {"run_id": r.info.run_id, "mlflow_status": r.info.status,
                       "run_name": r.info.run_name}
                row.update({f"params.{k}": v for k, v in r.data.params.items()})
                row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
                row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
                rows.append(row)
            token = page.token
            if not token:
                break
        return pd.DataFrame(rows)

    def results(self, exp_id: str, metric: str) -> dict[str, tuple[str, str, float | None]]:
        """Run key -> (finished | diverged, run id, final `metric`) of each child run that holds
        a result: FINISHED, or FAILED as diverged. The record decides what has a result."""
        df = self.runs_frame(exp_id)
        out: dict[str, tuple[str, str, float | None]] = {}
        if df.empty or f"tags.{RUN_KEY}" not in df:
            return out
        for _, r in df.iterrows():
            status = _result_status(r.get("mlflow_status"), r.get("tags.status"))
            if status is None or r[f"tags.{RUN_KEY}"] in out:
                continue
            value = r.get(f"metrics.eval/{metric}/final", r.get(f"metrics.eval/{metric}"))
            out[r[f"tags.{RUN_KEY}"]] = (status, r["run_id"],
                                         None if value is None or pd.isna(value) else float(value))
        return out

    def other_result(self, exp_id: str, run_key: str, run_id: str) -> str | None:
        """The id of another run of this key that already holds a result, if any."""
        found = _retry(self.client.search_runs, [exp_id], max_results=10,
                       filter_string=f"tags.`{RUN_KEY}` = '{run_key}'")
        return next((r.info.run_id for r in found if r.info.run_id != run_id
                     and _result_status(r.info.status, r.data.tags.get("status"))), None)

    def result_of(self, run_id: str, metric: str) -> tuple[str, float | None] | None:
        """(finished | diverged, final `metric`) when this run holds a result, else None (a
        missing run too)."""
        try:
            r = _retry(self.client.get_run, run_id)
        except MlflowException:
            return None
        status = _result_status(r.info.status, r.data.tags.get("status"))
        m = r.data.metrics
        return None if status is None else (status, m.get(f"eval/{metric}/final",
                                                          m.get(f"eval/{metric}")))

    # ------------------------------------------------------------------ reading (reports)

    def find_experiment(self, name: str) -> str | None:
        """The experiment id of a sweep, or None (never creates one)."""
        exp = _retry(self.client.get_experiment_by_name, name)
        return exp.experiment_id if exp is not None else None

    def sweep_names(self) -> list[str]:
        """Names of the experiments that hold a sweep's parent run."""
        exps = _retry(self.client.search_experiments, max_results=1000)
        return sorted(e.name for e in exps
                      if _retry(self.client.search_runs, [e.experiment_id], max_results=1,
                                filter_string=f"tags.`{ROLE}` = 'sweep'"))

    def find_parent(self, exp_id: str) -> str | None:
        """The sweep's parent run id, without touching its status (unlike parent_run)."""
        found = _retry(self.client.search_runs, [exp_id],
                       filter_string=f"tags.`{ROLE}` = 'sweep'", max_results=1)
        return found[0].info.run_id if found else None

    def read_text_artifact(self, run_id: str, path: str, dst: Path) -> str | None:
        """A run's text artifact (e.g. spec.yaml), or None when the run has none."""
        local = self.download_artifact(run_id, path, dst)
        return local.read_text() if local else None

    def download_artifact(self, run_id: str, path: str, dst: Path) -> Path | None:
        """Copy one artifact of a run into dst; None when it does not exist."""
        folder = str(Path(path).parent) if "/" in path else None
        names = {f.path for f in _retry(self.client.list_artifacts, run_id, folder)}
        if path not in names:
            return None
        dst.mkdir(parents=True, exist_ok=True)
        # MLflow draws a progress bar per download on stderr; library code stays quiet.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        return Path(_retry(self.client.download_artifacts, run_id, path, str(dst)))

    def artifact_names(self, run_id: str, folder: str) -> list[str]:
        """The paths of a run's artifacts directly in `folder` (empty when it has none)."""
        return sorted(f.path for f in _retry(self.client.list_artifacts, run_id, folder)
                      if not f.is_dir)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """(step, value) pairs of one metric of a run, in step order."""
        hist = _retry(self.client.get_metric_history, run_id, key)
        return sorted((m.step, m.value) for m in hist)

    def attach(self, run_id: str, files: list[Path], artifact_path: str | None = None) -> None:
        """Log files as artifacts of a run (e.g. a report on the sweep's parent run)."""
        for f in files:
            _retry(self.client.log_artifact, run_id, str(f), artifact_path)
