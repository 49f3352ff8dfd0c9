"""Storage overhead: the per-run bookkeeping a sweep worker does on the shared storage.

For N runs this does, without training, what `ganbench.sweep.worker.run_one` does around
`train()`: Queue.claim, MLflowStore.start_child (with the worker's tags), set_attrs
(mlflow_run_id), log_params (a real RunConfig, flattened), W metric windows of M metrics
each written as one batch (what a long run's periodic flush does), log_artifacts (a real
run folder: config.yaml, metrics.json, samples.png, generator.pt), finish, Queue.complete.

Two storages, opened side by side and used in turn (one run on each, repeated, so a change
in machine load hits both alike), with `--warmup` untimed runs first:

  local   Optuna journal file + MLflow on sqlite:///.../mlflow.db (artifacts on local disk)
  server  Optuna RDB storage on PostgreSQL + an `mlflow server` (PostgreSQL backend store,
          artifacts proxied by the server), both on 127.0.0.1 and started here with the
          helpers of tests/helpers/servers.py (PostgreSQL binaries must be installed).

    python benchmarks/perf/storage_overhead.py [--runs 30] [--windows 10] [--metrics 6]
                                               [--backlog 0] [--backends local,server]
                                               [--out FILE]

Prints (and with --out writes) a Markdown report: per-run ms (median, p90, mean) for each
storage, a breakdown by phase, and server minus local. Exit status 0: a measurement.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/helpers/: not installed with ganbench

from helpers.servers import MLflowServer, PostgresCluster  # noqa: E402

import ganbench  # noqa: E402
from ganbench.config import RunConfig  # noqa: E402
from ganbench.outputs import write_run_folder  # noqa: E402
from ganbench.store.mlflow import (  # noqa: E402
    RUN_KEY,
    SWEEP,
    MLflowStore,
    default_tracking_uri,
    flatten,
)
from ganbench.sweep.scheduler import Queue  # noqa: E402
from ganbench.tracking.base import MemoryTracker  # noqa: E402
from ganbench.train import train  # noqa: E402

PHASES = ("claim", "start_child", "params", "metrics", "artifacts", "finish")
STUDY = "storage-bench"


@dataclass
class Backend:
    name: str
    queue_url: str
    tracking_uri: str
    artifact_root: Path | None  # local store: a folder; server: None (the server's proxy)
    notes: list[str] = field(default_factory=list)


@contextmanager
def local_backend(tmp: Path) -> Iterator[Backend]:
    yield Backend("local", str(tmp / "study.journal"), default_tracking_uri(tmp),
                  tmp / "mlartifacts", ["Optuna journal file", "MLflow sqlite:///…/mlflow.db"])


@contextmanager
def server_backend(tmp: Path) -> Iterator[Backend]:
    with PostgresCluster() as pg, \
            MLflowServer(pg.create_database("mlflow"), tmp / "artifacts") as ml:
        yield Backend("server", pg.url(), ml.uri, None, [
            f"Optuna RDB storage on PostgreSQL 127.0.0.1 (`postgresql+psycopg2://`; cluster "
            f"up in {pg.started_in:.1f} s, initdb included)",
            f"`mlflow server --workers 1` on 127.0.0.1, PostgreSQL backend store, "
            f"`--serve-artifacts` to a local folder (up in {ml.started_in:.1f} s)"])


def run_folder(tmp: Path) -> tuple[Path, dict, str]:
    """A real worker's run folder (from a 20-step ring8 run), the params it logs and the
    config JSON a queued trial carries."""
    cfg = RunConfig(dataset="ring8", model="mlp", loss="ns", steps=20, batch_size=64,
                    device="cpu", tricks={"spectral_norm": {}, "ttur": {}})
    result = train(cfg, MemoryTracker())
    folder = write_run_folder(result.cfg, result, tmp / "run")
    torch.save(result.g.state_dict(), folder / "generator.pt")
    params = {**cfg.model_dump(mode="json", exclude={"data_root"}), "trick_list": "sn+ttur"}
    return folder, params, cfg.model_dump_json()


def one_run(queue: Queue, store: MLflowStore, exp: str, parent: str, folder: Path,
            params: dict, windows: int, n_metrics: int) -> dict[str, float]:
    """run_one's storage calls for one run; returns seconds per phase."""
    t, clock = {}, time.perf_counter
    t0 = clock()
    job = queue.claim()
    if job is None:
        raise RuntimeError("the queue ran dry")
    t1 = clock()
    a = job.attrs
    tracker = store.start_child(exp, parent, a["run_name"], {
        RUN_KEY: a["run_key"], "ganbench.cell_id": a["cell_id"], "ganbench.cell": a["cell"],
        SWEEP: STUDY, "git_commit": "bench", "ganbench_version": ganbench.__version__,
        "optuna_trial": str(job.number)})
    queue.set_attrs(job.trial_id, {"mlflow_run_id": tracker.run_id})
    t2 = clock()
    tracker.log_params(params)
    t3 = clock()
    for w in range(windows):  # one store write per window, as a long run's flushes do
        tracker.log_metrics({f"train/m{i}": 1.0 / (w + i + 1) for i in range(n_metrics)},
                            step=50 * (w + 1))
        tracker.flush()
    t4 = clock()
    tracker.log_artifacts(folder)
    t5 = clock()
    tracker.finish("FINISHED")
    queue.complete(job.trial_id, 8.0, {"metric": 8.0, "seconds": 1.0})
    t6 = clock()
    for name, (a_, b_) in zip(PHASES, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5),
                                       (t5, t6)], strict=True):
        t[name] = b_ - a_
    t["total"] = t6 - t0
    return t


class Bench:
    """One storage, opened as a worker opens it, with N + warm-up runs queued."""

    def __init__(self, b: Backend, args: argparse.Namespace, cfg_json: str) -> None:
        self.b, self.args = b, args
        self.queue = Queue(b.queue_url, STUDY, "maximize")
        self.store = MLflowStore(b.tracking_uri)
        self.exp = self.store.experiment(STUDY, b.artifact_root)
        self.parent = self.store.parent_run(self.exp, STUDY)
        self.n = args.warmup + args.runs
        self.queue.sync([{"run_key": f"run{i:04d}", "cell_id": f"c{i % 16:02d}",
                          "cell": "sn+ttur · ns", "run_name": f"sn+ttur · s{i}", "seed": i,
                          "config": cfg_json} for i in range(self.n + args.backlog)])
        self.times: list[dict] = []

    def run(self, folder: Path, params: dict) -> None:
        self.times.append(one_run(self.queue, self.store, self.exp, self.parent, folder, params,
                                  self.args.windows, self.args.metrics))

    def timed(self) -> list[dict]:
        """The timed runs, after checking that every run is recorded and finished."""
        runs = self.store.runs_frame(self.exp)
        if len(runs) != self.n or set(runs["mlflow_status"]) != {"FINISHED"}:
            raise RuntimeError(f"{self.b.name}: expected {self.n} finished runs, got {len(runs)}")
        if self.queue.counts()["finished"] != self.n:
            raise RuntimeError(f"{self.b.name}: the queue does not hold {self.n} finished trials")
        return self.times[self.args.warmup:]


def loadavg() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def ms(xs: list[float], q: float | None = None) -> float:
    xs = [1000 * x for x in xs]
    return float(np.percentile(xs, q)) if q is not None else statistics.median(xs)


def report(results: dict[str, list[dict]], backends: dict[str, Backend],
           args: argparse.Namespace, n_params: int, folder_bytes: int,
           load_start: float) -> str:
    import mlflow
    import optuna
    import sqlalchemy

    load = loadavg()
    lines = [
        "# Storage overhead per run (no training)",
        "",
        f"`python benchmarks/perf/storage_overhead.py --runs {args.runs} --windows "
        f"{args.windows} --metrics {args.metrics} --warmup {args.warmup} --backlog "
        f"{args.backlog}` on "
        f"{platform.node() or 'this machine'}: {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, optuna {optuna.__version__}, mlflow "
        f"{mlflow.__version__}, SQLAlchemy {sqlalchemy.__version__}; 1-min load average "
        f"{load_start:.2f} at the start, {load:.2f} at the end (near or above the CPU count, "
        "other work competed and the numbers are noisy).",
        "",
        f"Per run: claim, start_child + set_attrs, log_params ({n_params} "
        f"params), {args.windows} metric batches of {args.metrics}, log_artifacts (4 files, "
        f"{folder_bytes / 1024:.0f} KiB), finish + complete. Times in ms.",
        "",
        "| storage | runs | median | p90 | mean |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        tot = [r["total"] for r in rows]
        lines.append(f"| {name} | {len(rows)} | {ms(tot):.1f} | {ms(tot, 90):.1f} | "
                     f"{1000 * statistics.fmean(tot):.1f} |")
    lines += ["", "Median ms by phase:", "",
              "| storage | " + " | ".join(PHASES) + " |",
              "|---|" + "---:|" * len(PHASES)]
    for name, rows in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{ms([r[p] for r in rows]):.1f}"
                                                 for p in PHASES) + " |")
    if {"local", "server"} <= results.keys():
        loc = [r["total"] for r in results["local"]]
        srv = [r["total"] for r in results["server"]]
        lines += ["", f"**server − local:** median {ms(srv) - ms(loc):+.1f} ms per run, p90 "
                  f"{ms(srv, 90) - ms(loc, 90):+.1f} ms (server/local median ratio "
                  f"{ms(srv) / ms(loc):.2f})."]
    lines += ["", "Storages:", ""]
    for b in backends.values():
        lines += [f"- **{b.name}**: " + "; ".join(b.notes)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="timed runs per storage")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    ap.add_argument("--windows", type=int, default=10, help="metric batches per run")
    ap.add_argument("--metrics", type=int, default=6, help="metrics per batch")
    ap.add_argument("--backlog", type=int, default=0,
                    help="extra runs left queued behind the measured ones (a big sweep's queue)")
    ap.add_argument("--backends", default="local,server", help="comma list: local, server")
    ap.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = ap.parse_args()
    import logging
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MlflowClient prints "View run ... at http://..." on stdout when the store is a server
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    torch.set_num_threads(1)

    makers = {"local": local_backend, "server": server_backend}
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = [n for n in names if n not in makers]
    if unknown:
        ap.error(f"unknown backend(s) {unknown}; choose from {list(makers)}")
    results, backends = {}, {}
    load_start = loadavg()
    with tempfile.TemporaryDirectory(prefix="ganbench-storage-") as tmp:
        folder, params, cfg_json = run_folder(Path(tmp))
        folder_bytes = sum(f.stat().st_size for f in folder.iterdir())
        with ExitStack() as stack:
            benches = []
            for name in names:
                (Path(tmp) / name).mkdir()
                backends[name] = stack.enter_context(makers[name](Path(tmp) / name))
                benches.append(Bench(backends[name], args, cfg_json))
            print(f"{' and '.join(names)}: {args.warmup} + {args.runs} runs each, "
                  "interleaved ...", file=sys.stderr)
            for _ in range(args.warmup + args.runs):  # A B A B: load drifts hit both alike
                for bench in benches:
                    bench.run(folder, params)
            results = {bench.b.name: bench.timed() for bench in benches}
    text = report(results, backends, args, len(flatten(params)), folder_bytes,
                  load_start)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
