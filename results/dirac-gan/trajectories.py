"""Draw the Dirac-GAN's (theta, psi) trajectories per method, the kind of Mescheder et al.
2018's Figure 1, from direct deterministic runs of ganbench's own loop and `dirac` model
(the paper's start theta0 = psi0 = 1, plain gradient descent at h = 0.2, alternating D then
G steps as ganbench trains), and print each method's classification over 2,000 steps.

    PYTHONPATH=$PWD python results/dirac-gan/trajectories.py [--steps 2000] [--out DIR]

Writes DIR/trajectories.png (default: this folder). psi is drawn with the paper's sign
(-psi of ganbench's D, whose logit is high on real data). A picture of the first 500 steps
(the notebook's length) keeps every curve readable; the table uses the whole run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ganbench.config import RunConfig  # noqa: E402
from ganbench.tracking import MemoryTracker  # noqa: E402
from ganbench.train import train  # noqa: E402

METHODS = [  # (title, loss, tricks): the notebook's settings (notebooks/DiracGAN.ipynb)
    ("GAN (minimax)", "minimax", {}),
    ("NS-GAN", "ns", {}),
    ("WGAN (no clipping)", "wasserstein", {}),
    ("WGAN-GP (weight 0.35)", "wasserstein", {"gradient_penalty": {"weight": 0.35}}),
    ("GAN + instance noise 0.7", "minimax", {"instance_noise": {"std": 0.7}}),
    ("GAN + R1 (gamma 0.3)", "minimax", {"r1": {"gamma": 0.3}}),
    ("GAN + R2 (gamma 0.3)", "minimax", {"r2": {"gamma": 0.3}}),
    ("NS-GAN + R1 (gamma 0.3)", "ns", {"r1": {"gamma": 0.3}}),
]


def trajectory(loss: str, tricks: dict, steps: int, every: int = 5):
    cfg = RunConfig(dataset="dirac", model="dirac", loss=loss, steps=steps, batch_size=256,
                    lr=0.2, log_every=every, eval_every=every, device="cpu",
                    tricks={"gradient_descent": {}, **tricks})
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    series = {k: [v for _, key, v in tracker.metrics if key == f"eval/{k}"]
              for k in ("dirac_theta", "dirac_psi", "dirac_dist")}
    return series, tracker.tags.get("dirac.trend", result.status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = ap.parse_args()
    torch.set_num_threads(1)
    fig, axes = plt.subplots(2, 4, figsize=(14, 7), sharex=True, sharey=True)
    print("| method | final distance | trend |\n|---|---|---|")
    for ax, (title, loss, tricks) in zip(axes.flat, METHODS, strict=True):
        s, trend = trajectory(loss, tricks, args.steps)
        n = 500 // 5  # the notebook's 500 steps
        theta = [1.0] + s["dirac_theta"][:n]
        psi = [1.0] + [-p for p in s["dirac_psi"][:n]]
        ax.plot(theta, psi, lw=1)
        ax.plot([1.0], [1.0], "o", color="tab:green", ms=4)
        ax.plot([0.0], [0.0], "*", color="tab:red", ms=8)
        ax.set_title(f"{title}\n{trend} (at {args.steps} steps)", fontsize=9)
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_aspect("equal")
        print(f"| {title} | {s['dirac_dist'][-1]:.3g} | {trend} |")
    for ax in axes[-1]:
        ax.set_xlabel("theta")
    for ax in axes[:, 0]:
        ax.set_ylabel("psi (paper's sign)")
    fig.suptitle("Dirac-GAN, ganbench loop: alternating gradient descent, h = 0.2, "
                 "from (1, 1); first 500 steps drawn")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "trajectories.png", dpi=110)


if __name__ == "__main__":
    main()
