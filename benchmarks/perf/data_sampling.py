"""Data sampling cost: one 64-image CIFAR batch drawn from the uint8 tensor and converted to
[-1, 1], against one training step of the model that consumes it, and against a plain
hand-written gather + convert.

Three things are timed in this process, interleaved, each as the median of `--repeats`
blocks of `--calls` calls:

- ours: `Dataset.sample(64, generator)` on a CIFAR-10-shaped uint8 tensor (50,000 x 3 x 32 x
  32; `--data-root` reads the real files instead of random pixels);
- plain: `images[torch.randint(N, (64,), generator=g)].float().div_(127.5).sub_(1.0)`, what
  a person would write;
- step: one ganbench training step (`Trainer.step`: one D step and one G step, batch 64, no
  tricks, so no n_critic) of `--model` on that dataset: `sngan32` by default (the issue's
  target); `--model dcgan28` is a much cheaper step (3 x 28 x 28, data resized once), the
  stand-in used before sngan32 existed.

    python benchmarks/perf/data_sampling.py [--model sngan32] [--threads 1] [--device cpu]
                                            [--folder 10000]

`--folder N` also writes N random 32x32 PNGs to a temp dir and times the first load of
`dataset: folder` (decoding, and writing the cache) against the second (reading the cache).

Prints the medians, the ratios sample/step (target: under 5%) and ours/plain, and PASS/FAIL;
exit status 0 either way (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from perf_common import device_name, open_device

from ganbench.config import RunConfig
from ganbench.data import DATASETS, Dataset
from ganbench.models import MODELS
from ganbench.train import Trainer

TARGET = 0.05
BATCH = 64


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cifar_shaped(root: Path | None, n: int) -> Dataset:
    if root is not None:
        return DATASETS.get("cifar10")(root)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return Dataset("cifar10", "images", "synthetic", images=x, classes=10, resize_once=True)


def pct(r: float) -> str:
    return f"{r * 100:.3g}%"


def timed(fn, calls: int, device: torch.device) -> float:
    """Seconds per call, over `calls` calls."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / calls


def folder_loads(n: int) -> tuple[float, float]:
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "imgs"
        src.mkdir()
        rng = np.random.default_rng(0)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                src / f"{i:05d}.png")
        load = DATASETS.get("folder")
        t0 = time.perf_counter()
        first = load(Path(tmp) / "root", path=src, resolution=32)
        t1 = time.perf_counter()
        second = load(Path(tmp) / "root", path=src, resolution=32)
        t2 = time.perf_counter()
        assert torch.equal(first.images, second.images)
    return t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="sngan32" if "sngan32" in MODELS else "dcgan28")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=200, help="sampling calls per repeat")
    p.add_argument("--steps", type=int, default=5, help="training steps per repeat")
    p.add_argument("--images", type=int, default=50_000)
    p.add_argument("--data-root", type=Path, default=None,
                   help="read real CIFAR-10 from this data root instead of random pixels")
    p.add_argument("--folder", type=int, default=0, help="also time an N-image folder's loads")
    args = p.parse_args(argv)
    device = open_device(args.device, args.threads)
    if device is None:
        return 1
    data = cifar_shaped(args.data_root, args.images).to(device)
    images = data.images
    gen_ours = torch.Generator(device=device).manual_seed(0)
    gen_plain = torch.Generator(device=device).manual_seed(0)
    a, b = data.sample(BATCH, gen_ours), images[torch.randint(
        len(images), (BATCH,), device=device, generator=gen_plain)].float().div_(127.5).sub_(1)
    assert torch.equal(a, b), "ours and plain draw different batches"  # same work

    def plain():
        idx = torch.randint(len(images), (BATCH,), device=device, generator=gen_plain)
        return images[idx].float().div_(127.5).sub_(1.0)

    cfg = RunConfig(dataset="cifar10", model=args.model, batch_size=BATCH, device=args.device,
                    loss="hinge" if args.model.startswith("sn") else "ns")
    tr = Trainer(cfg, data=data)
    for i in range(2):  # warm-up: allocator, kernels, Adam state
        tr.step(i + 1)
    step_no = [2]

    def step():
        step_no[0] += 1
        tr.step(step_no[0])

    rows = []
    for _ in range(args.repeats):
        ours = timed(lambda: data.sample(BATCH, gen_ours), args.calls, device)
        pl = timed(plain, args.calls, device)
        st = timed(step, args.steps, device)
        rows.append((ours, pl, st))
    ours, pl, st = (statistics.median(r[i] for r in rows) for i in range(3))
    print(f"device: {device_name(device)}; torch {torch.__version__}; "
          f"threads {torch.get_num_threads()}")
    shape = tuple(images.shape)
    print(f"data: {data.source} {shape} uint8; batch {BATCH}; model {args.model} "
          f"(n_dis {tr.n_d}) on {tuple(tr.data.shape)}")
    print(f"{'repeat':>6} {'ours ms':>9} {'plain ms':>9} {'step ms':>9} {'ours/step':>10} "
          f"{'ours/plain':>10}")
    for i, (o, q, s) in enumerate(rows):
        print(f"{i:>6} {o * 1e3:>9.3f} {q * 1e3:>9.3f} {s * 1e3:>9.1f} {pct(o / s):>10} "
              f"{o / q:>10.2f}")
    ratio = statistics.median(o / s for o, _, s in rows)
    print(f"median {ours * 1e3:>9.3f} {pl * 1e3:>9.3f} {st * 1e3:>9.1f} {pct(ratio):>10} "
          f"{statistics.median(o / q for o, q, _ in rows):>10.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min): {load:.2f}")
    print(f"{'PASS' if ratio < TARGET else 'FAIL'}: sampling is {pct(ratio)} of a "
          f"{args.model} step (target < {TARGET:.0%})")
    if args.folder:
        first, second = folder_loads(args.folder)
        print(f"folder of {args.folder} 32x32 PNGs: first load (decode + cache) {first:.2f} s, "
              f"second (cache) {second:.3f} s, {first / second:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
