"""Profile one whole `ganbench sweep` command: the controller and each worker under cProfile.

The controller (imports included) runs in this process; each spawned worker runs
`process_main` under its own profiler and dumps it to OUT/worker-<pid>.prof. The top costs
(cumulative seconds) of both are printed and written to OUT/profile.txt.

    python benchmarks/perf/profile_sweep.py [--workers 2] [--seeds 16] [--steps 1000]
        [--out results/perf/profile]
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

OUT_ENV = "GANBENCH_PROFILE_OUT"


def _profiled(body) -> None:
    prof = cProfile.Profile()

    def dump() -> None:
        prof.disable()
        prof.dump_stats(Path(os.environ[OUT_ENV]) / f"worker-{os.getpid()}.prof")

    atexit.register(dump)  # a worker ends with os._exit, after the atexit handlers
    prof.enable()
    body()


def profiled_worker(ctx) -> None:
    """A cold worker's entry point under cProfile (picklable: a module-level function)."""
    from ganbench.sweep.worker import process_main

    _profiled(lambda: process_main(ctx))


def profiled_boot(conn) -> None:
    """A warm worker's whole life (imports, wait, runs) under cProfile."""
    from ganbench.sweep.warm import boot

    _profiled(lambda: boot(conn))


def top(path_or_prof, n: int) -> str:
    buf = io.StringIO()
    st = pstats.Stats(path_or_prof, stream=buf)
    st.sort_stats("cumulative").print_stats(n)
    return buf.getvalue()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--top", type=int, default=45)
    p.add_argument("--out", type=Path, default=Path("results/perf/profile"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ[OUT_ENV] = str(args.out.resolve())
    spec = (f"name: profile\nbase: {{dataset: ring8, model: mlp, loss: ns, steps: {args.steps},"
            f" batch_size: 128, lr: 0.002, log_every: 100}}\nseeds: {args.seeds}\n"
            "metric: {name: modes}\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.yaml"
        path.write_text(spec)
        argv = ["sweep", str(path), "--workers", str(args.workers), "--results",
                str(Path(tmp) / "results")]
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        import ganbench.sweep.runner as runner  # imports counted: the command pays them
        import ganbench.sweep.warm as warm

        runner.process_main = profiled_worker  # cold starts (a rerun of an existing study)
        warm.boot = profiled_boot  # new sweeps start warm workers
        from ganbench.cli import app

        try:
            app(argv, standalone_mode=False)
        finally:
            prof.disable()
        wall = time.perf_counter() - t0
    prof.dump_stats(args.out / "controller.prof")
    text = [f"ganbench {' '.join(argv)}: {wall:.1f} s wall, load {os.getloadavg()}\n",
            "## controller\n", top(prof, args.top)]
    for w in sorted(args.out.glob("worker-*.prof")):
        text += [f"## {w.stem}\n", top(str(w), args.top)]
    (args.out / "profile.txt").write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
