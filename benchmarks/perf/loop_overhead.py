"""Loop overhead: ganbench's `train()` against a plain hand-written PyTorch GAN loop.

Both sides train the same ring8 / mlp / ns configuration with no tricks, in this process:
the same G/D modules (built through ganbench's model registry), the same Adam settings, the
same batch size, the same on-device data sampling, BCE-with-logits losses, one D step then
one G step, `zero_grad(set_to_none=True)`, and the loss fetched to the host once every
`log_every` steps. The two are interleaved (A B A B ...) after a warm-up, each repeat seeded
identically, and the table reports steps/s of each and the ratio ours/plain.

ganbench is timed through `ganbench.train.train(cfg)` (what users run), so its time includes
building the Trainer and the one final evaluation (a G forward on `eval_samples` points plus
the mode metrics); the plain loop's time includes building its nets and optimisers. The size
of that fixed cost is measured separately and printed.

    python benchmarks/perf/loop_overhead.py [--steps N] [--repeats R] [--device cpu|cuda]
                                            [--batch-size B] [--threads T]

Exit status is 0 whatever the ratio: this is a measurement; the PASS/FAIL line says whether
the median ratio reached the target.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from perf_common import device_name, open_device

from ganbench.config import RunConfig
from ganbench.data import DATASETS
from ganbench.models import MODELS
from ganbench.train import Trainer, train

TARGET = 0.9


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_cfg(args: argparse.Namespace, steps: int) -> RunConfig:
    return RunConfig(dataset="ring8", model="mlp", loss="ns", tricks={}, steps=steps,
                     batch_size=args.batch_size, seed=args.seed, device=args.device)


# ------------------------------------------------------------------------------ plain loop


def plain_loop(cfg: RunConfig, device: torch.device):
    """What a person would write by hand for the same config. Returns (G, D, logged losses)."""
    torch.manual_seed(cfg.seed)
    z_dim = MODELS.get("mlp").z_dim
    g, d = MODELS.get("mlp").build(z_dim, (2,), "none")
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=cfg.betas)
    ring8 = DATASETS.get("ring8")(cfg.data_root)  # only its constants: 8 centres, std 0.01
    modes, std = ring8.modes.to(device), ring8.mode_std
    b = cfg.batch_size
    ones = torch.ones(b, device=device)
    zeros = torch.zeros(b, device=device)
    log = []
    for step in range(1, cfg.steps + 1):
        # D step
        idx = torch.randint(len(modes), (b,), device=device)
        real = modes[idx] + std * torch.randn(b, 2, device=device)
        with torch.no_grad():
            fake = g(torch.randn(b, z_dim, device=device))
        d_loss = (F.binary_cross_entropy_with_logits(d(real), ones)
                  + F.binary_cross_entropy_with_logits(d(fake), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # G step
        fake = g(torch.randn(b, z_dim, device=device))
        g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            log.append((step, d_loss.item(), g_loss.item()))
    return g, d, log


# ------------------------------------------------------------------------------ timing


def time_ours(cfg: RunConfig, device: torch.device):
    sync(device)
    t0 = time.perf_counter()
    result = train(cfg)
    sync(device)
    dt = time.perf_counter() - t0
    assert result.status == "finished", result.status
    return dt, result.g


def time_plain(cfg: RunConfig, device: torch.device):
    sync(device)
    t0 = time.perf_counter()
    g, _, _ = plain_loop(cfg, device)
    sync(device)
    return time.perf_counter() - t0, g


def fixed_cost(cfg: RunConfig, device: torch.device) -> tuple[float, float]:
    """Seconds for Trainer construction and for one evaluate(): in ganbench's time, not per step."""
    sync(device)
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    sync(device)
    t1 = time.perf_counter()
    tr.evaluate()
    sync(device)
    return t1 - t0, time.perf_counter() - t1


def max_param_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters(),
                                                               strict=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per timed run (default: calibrated from the warm-up "
                        "so that one run takes about --run-seconds)")
    p.add_argument("--run-seconds", type=float, default=4.0,
                   help="target seconds per timed run when --steps is not given (default 4)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved A/B repeats (default 5)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch-size", type=int, default=RunConfig().batch_size)
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads for both sides (default: torch's current)")
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    device = open_device(args.device, args.threads)
    if device is None:
        return 2
    threads = torch.get_num_threads()

    print(f"device: {device} ({device_name(device)})  torch {torch.__version__}  "
          f"threads {threads}  python {platform.python_version()}")
    load0 = os.getloadavg()[0]

    # Warm-up both paths (allocator, kernels, lazy imports), then check they do the same work.
    warm = make_cfg(args, args.warmup_steps)
    _, g_ours = time_ours(warm, device)
    t_warm, g_plain = time_plain(warm, device)
    diff = max_param_diff(g_ours, g_plain)
    same = "identical" if diff == 0.0 else f"max |dG| = {diff:.3g}"
    print(f"same work check ({args.warmup_steps} steps, same seed): G parameters {same}")
    steps = args.steps or max(100, int(round(args.run_seconds * args.warmup_steps / t_warm, -2)))
    cfg = make_cfg(args, steps)
    print(f"config: ring8/mlp/ns, no tricks, batch {cfg.batch_size}, steps {steps}"
          f"{'' if args.steps else ' (calibrated)'}, lr {cfg.lr}, betas {cfg.betas}, "
          f"log_every {cfg.log_every}, repeats {args.repeats}")
    build_s, eval_s = fixed_cost(cfg, device)

    rows = []
    print()
    print(f"{'repeat':>6} {'ganbench steps/s':>17} {'plain steps/s':>14} {'ours/plain':>11}")
    for r in range(args.repeats):
        t_ours, _ = time_ours(cfg, device)
        t_plain, _ = time_plain(cfg, device)
        ours, plain = steps / t_ours, steps / t_plain
        rows.append((ours, plain, ours / plain))
        print(f"{r + 1:>6} {ours:>17.1f} {plain:>14.1f} {ours / plain:>11.3f}", flush=True)

    med_ours = statistics.median(r[0] for r in rows)
    med_plain = statistics.median(r[1] for r in rows)
    med_ratio = statistics.median(r[2] for r in rows)
    print(f"{'median':>6} {med_ours:>17.1f} {med_plain:>14.1f} {med_ratio:>11.3f}")
    spread = (max(r[2] for r in rows) - min(r[2] for r in rows)) if rows else 0.0
    print(f"ratio spread (max-min) {spread:.3f}; ratio of medians {med_ours / med_plain:.3f}")
    t_repeat = steps / med_ours
    print(f"ganbench time includes Trainer construction ({build_s * 1e3:.1f} ms) and one final "
          f"evaluate() ({eval_s * 1e3:.1f} ms): {100 * (build_s + eval_s) / t_repeat:.1f}% "
          f"of a {t_repeat:.2f} s run")
    load1 = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"1-min load average: {load0:.2f} at start, {load1:.2f} at end ({cores} CPUs)")
    # Before the run the load is other processes'; at the end it also counts our own threads.
    if spread > 0.1 or load0 > 1.0 or load1 > threads + 1.0:
        print("WARNING: noisy measurement (other load on the machine or a wide ratio spread); "
              "rerun on a quiet machine, or with --threads 1 to avoid thread oversubscription")
    verdict = "PASS" if med_ratio >= TARGET else "FAIL"
    print(f"{verdict}: median ratio ours/plain {med_ratio:.3f} (target >= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
