"""FID through ganbench against torch-fidelity's own `calculate_metrics` on the same images, in
one script run (issue 32, item 3).

Inputs: N generated and N real uint8 CIFAR-shaped images (random, fixed seeds). Both sides use
the same Inception weights file (the data root's converted inception-v3-compat weights) and
the same batch size, and both compute the real statistics from scratch (ganbench's reference
cache is emptied before each of its runs; torch-fidelity runs with cache=False). ganbench's
side is a `FidelityEvaluator(...).compare(images)` from construction on; torch-fidelity's is
one `calculate_metrics(input1=..., input2=..., fid=True, feature_extractor_weights_path=...)`.
Interleaved over --repeats; the headline is the median time ratio ganbench / torch-fidelity.

Then the fixed cost a second evaluation pays (reference cached, as at every `eval_every` after
the first): ganbench's evaluate-again time at the same N.

    python benchmarks/perf/fid_vs_torch_fidelity.py [--n 500] [--repeats 3] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from perf_common import device_name, emit, load_line

from ganbench.config import default_data_root
from ganbench.data.base import Dataset
from ganbench.metrics import inception_weights as iw
from ganbench.metrics.fidelity import FidelityEvaluator
from ganbench.metrics.inception import EXTRACTOR, tf_module

TARGET = 1.1


class Images(torch.utils.data.Dataset):
    """uint8 (N, 3, H, W) images as torch-fidelity reads a dataset."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def ours(real: torch.Tensor, gen: torch.Tensor, root: Path, weights, batch: int
         ) -> tuple[float, float, float]:
    """(seconds from construction, FID, seconds of a second compare with the cache warm)."""
    shutil.rmtree(root / "fidelity-cache", ignore_errors=True)
    t0 = time.perf_counter()
    ev = FidelityEvaluator(Dataset("perf-cifar", "images", "random", images=real), ["fid"],
                           n_gen=len(gen), batch_size=batch, root=root, weights=weights)
    res = ev.compare(gen)
    t1 = time.perf_counter()
    ev.compare(gen)
    t2 = time.perf_counter()
    (fid,) = res.metrics.values()
    return t1 - t0, fid, t2 - t1


def theirs(real: torch.Tensor, gen: torch.Tensor, weights, batch: int) -> tuple[float, float]:
    tf = tf_module()
    t0 = time.perf_counter()
    out = tf.calculate_metrics(input1=Images(gen), input2=Images(real), fid=True, cache=False,
                               feature_extractor=EXTRACTOR, batch_size=batch, cuda=False,
                               feature_extractor_weights_path=str(weights.path),
                               verbose=False)
    return time.perf_counter() - t0, float(out["frechet_inception_distance"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=500, help="generated and real images (each)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    weights = iw.converted_weights(default_data_root())
    real, gen = images(args.n, 0), images(args.n, 1)
    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gb-fid-perf-") as tmp:
        for r in range(args.repeats):
            t_ours, fid_ours, again = ours(real, gen, Path(tmp), weights, args.batch_size)
            t_tf, fid_tf = theirs(real, gen, weights, args.batch_size)
            rows.append((t_ours, t_tf, fid_ours, fid_tf, again))
            print(f"repeat {r + 1}: ganbench {t_ours:.1f} s (FID {fid_ours:.4f}), "
                  f"torch-fidelity {t_tf:.1f} s (FID {fid_tf:.4f}), ganbench again "
                  f"{again:.1f} s", flush=True)
    ratio = statistics.median(o / t for o, t, *_ in rows)
    command = "python benchmarks/perf/fid_vs_torch_fidelity.py " + " ".join(argv or sys.argv[1:])
    text = "\n".join([
        "# FID: ganbench against torch-fidelity's calculate_metrics", "",
        f"`{command.strip()}`", "",
        f"machine: {device_name(torch.device('cpu'))}, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}, torch-fidelity {tf_module().__version__}, python "
        f"{platform.python_version()}  ",
        f"inputs: {args.n} generated vs {args.n} real random 3x32x32 uint8 images, batch "
        f"{args.batch_size}, the same Inception weights file ({weights.sha256[:16]}...), the "
        "real statistics computed by both sides every repeat  ", "",
        "| side | seconds (median) | FID |", "|---|---:|---:|",
        f"| ganbench (FidelityEvaluator, from construction) | "
        f"{statistics.median(r[0] for r in rows):.1f} | {rows[0][2]:.4f} |",
        f"| torch-fidelity calculate_metrics | {statistics.median(r[1] for r in rows):.1f} | "
        f"{rows[0][3]:.4f} |",
        f"| ganbench, a second evaluation (reference cached) | "
        f"{statistics.median(r[4] for r in rows):.1f} | |", "",
        f"time ratio ganbench / torch-fidelity (median of per-repeat ratios): {ratio:.3f} "
        f"({'PASS' if ratio <= TARGET else 'FAIL'}: goal <= {TARGET}); largest |FID "
        f"difference| {max(abs(r[2] - r[3]) for r in rows):.2e}  ",
        load_line(load0), ""])
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
