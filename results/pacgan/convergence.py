"""Where does PacGAN's GAN baseline converge on this machine? One long run per data set of
Table 1's GAN row (ganbench's `pacgan` model and settings, benchmarks/pacgan-*.yaml's base, seed
0), scored every --every steps on 2,500 samples: modes covered and the share of high-quality
samples over training. Writes convergence-<data>.csv per data set and, from every CSV present,
convergence.png (this folder).

    PYTHONPATH=$PWD python results/pacgan/convergence.py --data ring8 [--steps 20000]
    PYTHONPATH=$PWD python results/pacgan/convergence.py --plot   # the picture only
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PAPER = {"ring8": (6.3, 98.2, 8), "grid25": (17.3, 94.8, 25)}  # Table 1's GAN: modes, hq %


def run(data: str, steps: int, every: int, seed: int) -> Path:
    import torch

    from ganbench.config import RunConfig
    from ganbench.tracking import MemoryTracker
    from ganbench.train import train

    kind = "ring" if data == "ring8" else "grid"
    spec = yaml.safe_load((ROOT / "benchmarks" / f"pacgan-{kind}.yaml").read_text())
    base = dict(spec["base"], steps=steps, eval_every=every, log_every=every, device="cpu",
                seed=seed)
    torch.set_num_threads(1)
    tracker, t0 = MemoryTracker(), time.perf_counter()
    result = train(RunConfig(**base), tracker)
    wall = time.perf_counter() - t0
    series: dict[int, dict[str, float]] = {}
    for step, key, value in tracker.metrics:
        if key in ("eval/modes", "eval/hq"):
            series.setdefault(step, {})[key[5:]] = value
    out = HERE / f"convergence-{data}.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "modes", "hq"])
        for step in sorted(series):
            w.writerow([step, series[step].get("modes"), series[step].get("hq")])
    print(f"{data}: {steps} steps in {wall:.0f} s ({steps / wall:.0f} steps/s), "
          f"status {result.status}; wrote {out.relative_to(ROOT)}")
    return out


def plot() -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for data, (modes, hq, n_modes) in PAPER.items():
        path = HERE / f"convergence-{data}.csv"
        if not path.is_file():
            continue
        rows = list(csv.DictReader(path.open()))
        steps = [int(r["step"]) for r in rows]
        line, = axes[0].plot(steps, [float(r["modes"]) / n_modes for r in rows],
                             label=f"{data} (of {n_modes})")
        axes[0].axhline(modes / n_modes, ls=":", color=line.get_color())
        axes[1].plot(steps, [100 * float(r["hq"]) for r in rows], color=line.get_color(),
                     label=data)
        axes[1].axhline(hq, ls=":", color=line.get_color())
    axes[0].set(xlabel="step", ylabel="share of modes covered", ylim=(0, 1.05),
                title="modes covered (dotted: Table 1's GAN at 400,000 steps)")
    axes[1].set(xlabel="step", ylabel="high-quality samples (%)", ylim=(0, 100),
                title="hq % (dotted: Table 1's GAN)")
    for ax in axes:
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    fig.suptitle("PacGAN Table 1's GAN baseline on ganbench: one run per data set, seed 0")
    fig.tight_layout()
    out = HERE / "convergence.png"
    fig.savefig(out, dpi=110)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=sorted(PAPER), action="append", default=[])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", action="store_true", help="only draw convergence.png")
    args = ap.parse_args()
    for data in args.data:
        run(data, args.steps, args.every, args.seed)
    print(f"wrote {plot().relative_to(ROOT)}")


if __name__ == "__main__":
    main()
