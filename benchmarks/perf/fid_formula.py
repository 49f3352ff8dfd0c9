"""FID's formula on 2048-d statistics: torch-fidelity's `fid_statistics_to_metric` (general
eigvals of S1 S2) against ganbench's (metrics/frechet.py: the reference's root once, then
one symmetric eigenvalue solve per evaluation), same inputs, interleaved, in one script run.
This is the fixed cost every FID evaluation pays whatever its sample count.

    python benchmarks/perf/fid_formula.py [--repeats 3] [--threads T] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from perf_common import device_name, emit, load_line
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

from ganbench.metrics import frechet
from ganbench.metrics.frechet import statistics_to_metric


def stats(n: int, seed: int) -> dict:
    x = np.random.default_rng(seed).standard_normal((n, 2048))
    x[:, :600] *= 2.5
    return {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]
    # Generated first, the reference second, as torch-fidelity passes them; full rank, as
    # at 10k samples. Each repeat scores a new generated set against the same reference,
    # as the evaluations of a run do.
    ref_stats = stats(4000, 1)
    frechet._ROOTS.clear()
    t0 = time.perf_counter()
    statistics_to_metric(stats(2500, 100), ref_stats)
    cold = time.perf_counter() - t0  # the first evaluation also takes the reference's root
    rows = []
    for r in range(args.repeats):
        gen = stats(2500, r)
        t0 = time.perf_counter()
        ref = fid_statistics_to_metric(gen, ref_stats, False)[KEY_METRIC_FID]
        t1 = time.perf_counter()
        ours = statistics_to_metric(gen, ref_stats)[KEY_METRIC_FID]
        t2 = time.perf_counter()
        rows.append((t1 - t0, t2 - t1, abs(ours - ref) / abs(ref)))
        print(f"torch-fidelity {t1 - t0:.2f} s, ganbench {t2 - t1:.2f} s, FID {ref:.6f} vs "
              f"{ours:.6f}", flush=True)
    tf_s = statistics.median(r[0] for r in rows)
    gb_s = statistics.median(r[1] for r in rows)
    command = "python benchmarks/perf/fid_formula.py " + " ".join(argv or sys.argv[1:])
    text = "\n".join([
        "# FID's formula on 2048-d statistics", "", f"`{command.strip()}`", "",
        f"machine: {device_name(torch.device('cpu'))}, numpy {np.__version__}, python "
        f"{platform.python_version()}, OMP/BLAS threads as the environment sets them "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})  ", "",
        f"| formula | seconds (median of {args.repeats}) |", "|---|---:|",
        f"| torch-fidelity (eigvals of S1 S2) | {tf_s:.2f} |",
        f"| ganbench, each evaluation (R S2 R, eigvalsh) | {gb_s:.2f} |",
        f"| ganbench, a process's first evaluation (also R = eigh root of the reference, "
        f"once) | {cold:.2f} |", "",
        f"ratio ganbench / torch-fidelity: {gb_s / tf_s:.3f}; largest relative difference in "
        f"FID {max(r[2] for r in rows):.1e}  ",
        load_line(load0), ""])
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
