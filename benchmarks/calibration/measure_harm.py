"""Measure planted_noise's harm directly: train the baseline of planted.yaml (ring8/mlp, the
same settings and seeds) and score each trained generator with and without Gaussian noise of
each planted std added to its output. The per-seed differences in `hq` (and modes_hq) are
the harm on the same generators, to compare with the report's estimated effect and interval
for calibration-planted (which also includes how training adapts to the noise).

    PYTHONPATH=$PWD python benchmarks/calibration/measure_harm.py [--seeds 8] [--steps 5000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

from ganbench.config import RunConfig
from ganbench.metrics import mode_metrics
from ganbench.train import train

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="default: planted.yaml's")
    ap.add_argument("--samples", type=int, default=2500)
    args = ap.parse_args()
    spec = yaml.safe_load((HERE / "planted.yaml").read_text())
    stds = [lv["std"] for lv in spec["tricks"]["planted_noise"] if isinstance(lv, dict)]
    base = dict(spec["base"], device="cpu")
    if args.steps:
        base["steps"] = args.steps
    torch.set_num_threads(1)
    print("seed | hq clean | " + " | ".join(f"hq - hq(+{s})" for s in stds))
    diffs = {s: [] for s in stds}
    for seed in range(args.seeds):
        result = train(RunConfig(**base, seed=seed))
        gen = torch.Generator().manual_seed(10_000 + seed)
        with torch.no_grad():
            x = result.g(torch.randn(args.samples, result.cfg.z_dim, generator=gen))
            clean = mode_metrics(x, result.dataset.modes, result.dataset.mode_std)["hq"]
            row = []
            for s in stds:
                noisy = x + s * torch.randn(x.shape, generator=gen)
                d = clean - mode_metrics(noisy, result.dataset.modes,
                                         result.dataset.mode_std)["hq"]
                diffs[s].append(d)
                row.append(f"{d:.3f}")
        print(f"{seed} | {clean:.3f} | " + " | ".join(row))
    for s in stds:
        v = torch.tensor(diffs[s])
        print(f"std {s}: mean harm on hq {v.mean():.3f} (min {v.min():.3f}, max {v.max():.3f})")


if __name__ == "__main__":
    main()
