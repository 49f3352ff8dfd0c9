"""What a whole `ganbench sweep` command costs beyond its training (sweep_throughput.py's
--command and --memory modes): the command run as a user types it, in a subprocess, timed
from start to exit and split by the study's own trial times into start-up (imports, store
and study set-up, worker start-up), the span of the runs, and the tail (the report); plus
the worker processes' resident memory, sampled from /proc."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml


def spec_text(base: dict, seeds: int) -> str:
    metric = "modes" if base["dataset"] in ("ring8", "grid25") else "steps"
    return yaml.safe_dump({"name": "throughput", "base": base, "seeds": seeds,
                           "metric": {"name": metric}})


FORKSERVER = "multiprocessing.forkserver"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")[:200]
    except OSError:
        return "?"


def _status(pid: int, key: str, kb: bool = True) -> int | None:
    """A /proc/<pid>/status field (VmRSS, VmHWM in kB; PPid with kb=False), None once the
    process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


class RssSampler:
    """Samples VmRSS and VmHWM of every descendant of `root` (the workers) every `every` s."""

    def __init__(self, root: int, every: float = 0.25) -> None:
        self.root, self.every = root, every
        self.samples: list[tuple[float, int, int]] = []  # (time, pid, rss kB)
        self.hwm: dict[int, int] = {}
        self.cmd: dict[int, str] = {}
        self.ppid: dict[int, int] = {}
        self.root_hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            todo, seen = _children(self.root), []
            while todo:
                pid = todo.pop()
                seen.append(pid)
                todo += _children(pid)
            now = time.time()
            self.root_hwm = max(self.root_hwm, _status(self.root, "VmHWM") or 0)
            for pid in seen:
                rss, hwm = _status(pid, "VmRSS"), _status(pid, "VmHWM")
                if rss is None or hwm is None or rss < 50_000:  # resource trackers, shells
                    continue
                if pid not in self.cmd:
                    self.cmd[pid] = _cmdline(pid)
                    self.ppid[pid] = _status(pid, "PPid", kb=False) or 0
                if self.is_worker(pid):
                    self.samples.append((now, pid, rss))
                self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            self._stop.wait(self.every)

    def is_worker(self, pid: int) -> bool:
        """A spawned worker, or one forked by the fork server (whose own command line it
        shares; the server is the controller's child, a worker the server's)."""
        cmd = self.cmd.get(pid, "")
        if "spawn_main" in cmd:
            return True
        parent = self.cmd.get(self.ppid.get(pid, 0)) or _cmdline(self.ppid.get(pid, 0))
        return FORKSERVER in cmd and FORKSERVER in parent

    def rss_after(self, t: float) -> int | None:
        """The first sample at or after time t (kB, summed over none: the one worker's)."""
        later = [s for s in self.samples if s[0] >= t]
        if later:
            return min(later)[2]
        # The last run's end: a worker exits at once after it (no teardown), often before
        # the next sample; its last sample is then its final RSS.
        return max(self.samples)[2] if self.samples else None


def _trial_times(results: Path) -> list[tuple[float, float]]:
    from ganbench.sweep.scheduler import Queue

    q = Queue(str(results / "throughput" / "study.journal"), "throughput", None)
    return sorted((t.datetime_start.timestamp(), t.datetime_complete.timestamp())
                  for t in q.trials() if t.state.is_finished() and t.datetime_start
                  and t.datetime_complete)


def run_command(base: dict, seeds: int, workers: int, device: str, rerun: bool = True) -> dict:
    """`ganbench sweep FILE --workers W` from an empty store, then the same command again
    (nothing to do). Seconds of each part, per-run durations and the workers' peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "throughput.yaml"
        spec.write_text(spec_text(base, seeds))
        results = Path(tmp) / "results"
        cmd = [sys.executable, "-m", "ganbench", "sweep", str(spec), "--workers", str(workers),
               "--results", str(results), "--device", device]
        root = str(Path(__file__).resolve().parents[2])  # this checkout's ganbench, not cwd's
        env = {**os.environ, "COLUMNS": "120",
               "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                cwd=tmp)
        with RssSampler(proc.pid) as rss:
            out = proc.communicate()[0]
        t1 = time.time()
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.decode()[-3000:]}")
        trials = _trial_times(results)
        if len(trials) != seeds:
            raise RuntimeError(f"{len(trials)} of {seeds} runs finished:\n{out.decode()[-3000:]}")
        again = None
        if rerun:
            t2 = time.time()
            subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=tmp)
            again = time.time() - t2
    first, last = trials[0][0], max(e for _, e in trials)
    return {"wall": t1 - t0, "startup": first - t0, "span": last - first, "tail": t1 - last,
            "durations": [e - s for s, e in trials], "rerun": again,
            "peak_rss_mb": sorted(v / 1024 for p, v in rss.hwm.items() if rss.is_worker(p)),
            "other_rss": {rss.cmd.get(p, "?"): v / 1024 for p, v in rss.hwm.items()
                          if not rss.is_worker(p)},
            "controller_rss_mb": rss.root_hwm / 1024}


def run_memory(base: dict, runs: int, device: str) -> dict:
    """One worker over `runs` tiny runs (no report): its RSS after run 1, the middle run and
    the last, and its peak."""
    from ganbench.sweep.runner import SweepOptions, prepare, run_workers

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "throughput.yaml"
        spec.write_text(spec_text(base, runs))
        opts = SweepOptions(results=Path(tmp) / "results", workers=1, device=device,
                            checkpoint_every=0)
        sw = prepare(spec, opts)
        with RssSampler(os.getpid(), every=0.1) as rss:
            counts = run_workers(sw, opts)
        if counts["finished"] != runs:
            raise RuntimeError(f"memory mode: {counts}")
        ends = [e for _, e in _trial_times(opts.results)]
    at = {k: rss.rss_after(ends[k - 1]) for k in (1, runs // 2, runs)}
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    return {"rss_mb": {k: (v / 1024 if v else float("nan")) for k, v in at.items()},
            "peak_mb": max((v for p, v in rss.hwm.items() if rss.is_worker(p)),
                           default=0) / 1024,
            "seconds_per_run": statistics.median(gaps)}


def _med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} | {min(xs):.2f}-{max(xs):.2f}"


def report_command(say, workers: int, runs: list[dict], plain2: list[float], total_steps: int,
                   steps: int) -> None:
    """The whole command's rows: ratios to `plain x2` of the same repeat, fixed costs."""
    seeds = total_steps // steps
    whole = [total_steps / r["wall"] / p for r, p in zip(runs, plain2, strict=True)]
    span = [total_steps / r["span"] / p for r, p in zip(runs, plain2, strict=True)]
    per_run = [r["span"] * workers / seeds - steps / (p / 2)
               for r, p in zip(runs, plain2, strict=True)]
    rows = [
        ("whole command: steps/s", [total_steps / r["wall"] for r in runs]),
        ("whole command: ratio to plain x2 (goal >= 0.70)", whole),
        ("span of the runs: ratio to plain x2 (goal >= 0.85)", span),
        ("whole command: wall s", [r["wall"] for r in runs]),
        ("fixed cost per command: start to the first run's claim (imports, store, study, "
         "workers) s", [r["startup"] for r in runs]),
        ("fixed cost per command: last run's end to exit (report) s", [r["tail"] for r in runs]),
        ("fixed cost per command: total (wall - span) s", [r["wall"] - r["span"] for r in runs]),
        ("fixed cost per run: span x W / runs - steps / one plain loop's steps/s, s", per_run),
        ("one run, claim to result (median) s", [statistics.median(r["durations"]) for r in runs]),
        ("peak RSS of the controller MB", [r["controller_rss_mb"] for r in runs]),
        ("peak RSS per worker (largest) MB", [max(r["peak_rss_mb"]) for r in runs]),
    ]
    again = [r["rerun"] for r in runs if r["rerun"] is not None]
    if again:
        rows.append(("rerun of the same command, nothing to do: wall s", again))
    say()
    say(f"| `ganbench sweep --workers {workers}`, {seeds} x {steps}-step runs, "
        f"{len(runs)} repeat(s) | median | range |")
    say("|---|---:|---|")
    for name, xs in rows:
        say(f"| {name} | {_med(xs)} |")
    say("peak RSS per worker, each repeat: "
        + "; ".join(", ".join(f"{m:.0f}" for m in r["peak_rss_mb"]) + " MB" for r in runs))
    for r in runs[:1]:
        for cmd, mb in r["other_rss"].items():
            say(f"other child process: {mb:.0f} MB peak: `{cmd[:120]}`")


def report_memory(say, m: dict, runs: int, steps: int) -> None:
    say()
    say(f"| one worker, {runs} x {steps}-step runs (no report) | MB |")
    say("|---|---:|")
    for k, v in m["rss_mb"].items():
        say(f"| worker RSS after run {k} | {v:.0f} |")
    say(f"| worker peak RSS | {m['peak_mb']:.0f} |")
    say(f"| seconds per tiny run (median) | {m['seconds_per_run']:.2f} |")


def _timing_evaluate():
    """Wrap the Trainer's evaluate (when train/loop.py has one) to add up its seconds."""
    import ganbench.train.loop as loop

    cls = getattr(loop, "Trainer", None)
    if cls is None or not hasattr(cls, "evaluate"):
        return None, None
    orig, spent = cls.evaluate, [0.0, 0]

    def timed(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += 1

    cls.evaluate = timed
    return spent, lambda: setattr(cls, "evaluate", orig)


def report_eval_share(say, args, make_cfg, train) -> None:
    """train() with a final evaluation only and with eval_every = steps / 4, `args.runs`
    seeds each: evaluation's own seconds (timed around each call) against the run's."""
    every = max(1, args.steps // 4)
    spent, restore = _timing_evaluate()
    if spent is None:
        say("\n(eval share: no Trainer.evaluate to time in this version)")
        return
    rows = []
    try:
        for e in (0, every):
            spent[:] = [0.0, 0]
            t0 = time.perf_counter()
            for s in range(args.runs):
                train(make_cfg(args, s, args.steps).model_copy(update={"eval_every": e}))
            total = time.perf_counter() - t0
            rows.append((e, spent[0] / max(1, spent[1]), spent[0] / total, spent[1] / args.runs))
    finally:
        restore()
    say()
    say("| evaluation (2-D mode metrics, eval_samples 2500), timed around each call "
        "| one evaluation s | evaluations per run | share of the run |")
    say("|---|---:|---:|---:|")
    for e, one, share, n in rows:
        what = "final evaluation only" if e == 0 else f"eval_every {e}"
        say(f"| {args.steps}-step run, {what} | {one:.3f} | {n:.0f} | {share:.1%} |")
