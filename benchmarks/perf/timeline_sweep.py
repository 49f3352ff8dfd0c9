"""Where a whole `ganbench sweep` command's seconds go, in wall time (no profiler overhead):
the named steps of the controller and of each warm worker are wrapped with timers, and
their totals (and the timeline of the first seconds) are printed.

    python benchmarks/perf/timeline_sweep.py [--workers 2] [--seeds 16] [--steps 1000]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

OUT_ENV = "GANBENCH_TIMELINE_OUT"
T0 = time.time()
EVENTS: list[tuple[str, float, float]] = []  # (name, start, end), wall clock

# (module, attribute path) of the steps timed in a worker and in the controller
WORKER = [
    ("ganbench.sweep.warm", "preload"), ("ganbench.sweep.worker", "work"),
    ("ganbench.sweep.worker", "run_one"),
    ("ganbench.sweep.worker", "train"),
    ("ganbench.sweep.worker", "_open_record"), ("ganbench.sweep.worker", "_record"),
    ("ganbench.sweep.worker", "write_run_folder"), ("ganbench.outputs", "save_samples"),
    ("ganbench.store.mlflow", "MLflowStore.__init__"),
    ("ganbench.sweep.scheduler", "Queue.__init__"), ("ganbench.specs.plugins", "load_recorded"),
    ("ganbench.sweep.scheduler", "Queue.claim"), ("ganbench.sweep.scheduler", "Queue.reap"),
    ("ganbench.sweep.scheduler", "Queue.complete"),
    ("ganbench.sweep.scheduler", "Queue.set_attrs"),
    ("ganbench.sweep.scheduler", "Queue.still_claimed"),
    ("ganbench.store.mlflow", "MLflowRunTracker.log_artifacts"),
    ("ganbench.store.mlflow", "MLflowRunTracker.log_dataset"),
    ("ganbench.store.mlflow", "MLflowRunTracker.log_params"),
    ("ganbench.store.mlflow", "MLflowRunTracker.log_metrics"),
    ("ganbench.store.mlflow", "MLflowRunTracker.set_tags"),
    ("ganbench.store.mlflow", "MLflowRunTracker.finish"),
    ("ganbench.store.mlflow", "MLflowStore.start_child"),
    ("ganbench.store.mlflow", "MLflowStore.other_result"),
    ("ganbench.store.mlflow", "MLflowStore.mark_superseded"),
    ("ganbench.store.mlflow", "MLflowStore.checkpointer"),
    ("ganbench.train.loop", "Trainer.__init__"), ("ganbench.train.loop", "run_windows"),
    ("ganbench.train.seed", "SeedRun.evaluate"), ("ganbench.train.seed", "SeedRun.snapshot"),
    ("ganbench.train.runlog", "RunLog.start"), ("ganbench.train.runlog", "RunLog.log"),
    ("ganbench.train.runlog", "RunLog.end_window"), ("ganbench.train.runlog", "RunLog.result"),
]
CONTROLLER = [
    ("ganbench.sweep.runner", "prepare"), ("ganbench.sweep.runner", "load_plan"),
    ("ganbench.sweep.runner", "MLflowStore.__init__"), ("ganbench.sweep.runner", "Queue.__init__"),
    ("ganbench.sweep.runner", "Queue.sync"), ("ganbench.sweep.runner", "run_workers"),
    ("ganbench.sweep.runner", "summarise"), ("ganbench.sweep.warm", "WarmWorkers.take"),
]


def timed(name, fn):
    def wrapper(*a, **k):
        t = time.time()
        CPU.setdefault(f"before first {name}", cpu())
        try:
            return fn(*a, **k)
        finally:
            EVENTS.append((name, t, time.time()))
            CPU[f"after last {name}"] = cpu()
    wrapper.__wrapped__ = fn
    return wrapper


def patch(targets) -> None:
    import importlib

    for mod, path in targets:
        obj = importlib.import_module(mod)
        *owner, attr = path.split(".")
        for o in owner:
            obj = getattr(obj, o)
        setattr(obj, attr, timed(path, getattr(obj, attr)))


def cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


CPU: dict[str, float] = {}  # CPU seconds of this process at named points


def dump(role: str) -> None:
    CPU["exit"] = cpu()
    Path(os.environ[OUT_ENV], f"{role}-{os.getpid()}.json").write_text(
        json.dumps({"events": EVENTS, "cpu": CPU}))


def timed_boot(conn) -> None:
    """A warm worker: its imports, then the context, then its runs, each step timed."""
    t = time.time()
    import ganbench.sweep.worker  # noqa: F401 - what boot() imports first

    EVENTS.append(("boot imports", t, time.time()))
    patch(WORKER)
    from ganbench.sweep.warm import boot

    t = time.time()
    orig = conn.recv

    def recv():
        try:
            return orig()
        finally:
            EVENTS.append(("wait for context", t, time.time()))
    conn.recv = recv
    atexit.register(dump, "worker")  # a worker ends with os._exit, after the atexit handlers
    boot(conn)


def timed_worker(ctx, env=None) -> None:
    """A worker forked from the fork server (CPU workers on Linux), each step timed."""
    patch(WORKER)
    atexit.register(dump, "worker")  # a worker ends with os._exit, after the atexit handlers
    from ganbench.sweep.worker import process_main

    process_main(ctx, env)


def summary(files: list[Path], t0: float) -> str:
    lines = []
    for f in files:
        got = json.loads(f.read_text())
        ev = got["events"]
        tot, n = defaultdict(float), defaultdict(int)
        for name, s, e in ev:
            tot[name] += e - s
            n[name] += 1
        lines.append(f"## {f.stem}\n")
        lines.append("| step | calls | total s | per call s | first starts at s | last ends at s |"
                     "\n|---|---:|---:|---:|---:|---:|")
        first, last = {}, defaultdict(float)
        for name, s, e in ev:
            first.setdefault(name, s)
            last[name] = max(last[name], e)
        for name in sorted(tot, key=lambda k: -tot[k]):
            lines.append(f"| {name} | {n[name]} | {tot[name]:.3f} | {tot[name] / n[name]:.4f} |"
                         f" {first[name] - t0:.2f} | {last[name] - t0:.2f} |")
        lines.append("\nCPU seconds of the process: " + ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(got["cpu"].items(), key=lambda kv: kv[1])))
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000)
    args = p.parse_args()
    spec = (f"name: timeline\nbase: {{dataset: ring8, model: mlp, loss: ns, steps: {args.steps},"
            f" batch_size: 128, lr: 0.002, log_every: 100}}\nseeds: {args.seeds}\n"
            "metric: {name: modes}\n")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[OUT_ENV] = tmp
        path = Path(tmp) / "timeline.yaml"
        path.write_text(spec)
        argv = ["sweep", str(path), "--workers", str(args.workers), "--results",
                str(Path(tmp) / "results")]
        t = time.time()
        import ganbench.cli.sweep as cli_sweep
        import ganbench.sweep.warm as warm

        warm.boot = timed_boot  # spawned warm workers (GPUs, other platforms)
        from ganbench.cli import app

        EVENTS.append(("controller imports (cli, warm)", t, time.time()))
        inner = cli_sweep._sweep

        def patched(*a, **k):  # the runner is imported where the command imports it
            t = time.time()
            import ganbench.sweep.runner  # noqa: F401

            EVENTS.append(("controller imports (runner)", t, time.time()))
            patch(CONTROLLER)
            import ganbench.sweep.worker as worker

            worker.process_main = timed_worker  # forked workers (the fork server's imports)
            return inner(*a, **k)

        cli_sweep._sweep = timed("_sweep", patched)
        try:
            app(argv, standalone_mode=False)
        finally:
            wall = time.time() - T0
            dump("controller")
        text = summary(sorted(Path(tmp).glob("*.json")), T0)
    print(f"ganbench {' '.join(argv[:1])} ... --workers {args.workers}: {wall:.1f} s wall "
          f"({args.seeds} x {args.steps} steps), load {os.getloadavg()[0]:.2f}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
