"""Sweep throughput: a cell's seeds trained vectorised against one run at a time.

Every mode trains the same cell (data, model, ns loss, no tricks, batch, lr) for the same
number of steps per run, in this process, and is scored by aggregate optimisation steps/s:
(runs x steps) / wall seconds.

- plain:      a hand-written PyTorch loop (as in loop_overhead.py), one run after another;
- train:      `ganbench.train.train(cfg)`, one run after another;
- vec S:      `ganbench.train.vectorised.train_vectorised` over S seeds at once;
- procs K:    (with --procs K) K spawned processes side by side, each running `train()`
              over --runs seeds (or, with --procs-seeds S, `train_vectorised` over S seeds),
              torch threads split between them (max(1, threads // K));
- sweep W:    (with --sweep W) the real sweep machinery — plan, Optuna queue, W worker
              processes, an MLflow child run with artifacts per seed — over --sweep-seeds
              seeds, run by run and (`sweep W vec`) with `--vectorise on`;
- command W:  (with --command W) the whole `ganbench sweep FILE --workers W` command as a
              user types it (imports, store, workers, runs, report) over --command-seeds
              seeds, against `plain x2` (two plain loops in two processes side by side); its
              fixed costs per command and per run get their own rows (command_cost.py);
- memory:     (with --memory-runs N) one worker over N tiny runs: RSS at run 1, N/2 and N;
- eval share: (with --eval-share) what evaluation costs a run (eval_every = steps / 4).

ganbench's times include building the Trainers and each run's final evaluation; the plain
loop's include building its nets. Modes are interleaved within each repeat after a warm-up;
the table gives medians over the repeats and each mode's median ratio to plain.

    python benchmarks/perf/sweep_throughput.py [--steps N] [--repeats R] [--vec 3 8 16]
        [--runs N] [--procs K ...] [--procs-seeds S] [--sweep W ...] [--sweep-seeds S]
        [--command W ...] [--command-seeds S] [--memory-runs N] [--eval-share]
        [--model M] [--dataset D] [--batch B]
        [--device cpu|cuda] [--threads T] [--out FILE]

The GPU cell: --model dcgan64 --dataset mnist --batch 64 --device cuda.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from command_cost import (
    report_command,
    report_eval_share,
    report_memory,
    run_command,
    run_memory,
)
from perf_common import device_name, open_device

from ganbench.config import RunConfig
from ganbench.data import DATASETS
from ganbench.models import MODELS
from ganbench.train import train
from ganbench.train.vectorised import train_vectorised


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_cfg(args: argparse.Namespace, seed: int, steps: int) -> RunConfig:
    return RunConfig(dataset=args.dataset, model=args.model, loss="ns", tricks={}, steps=steps,
                     batch_size=args.batch, lr=args.lr, log_every=args.log_every, seed=seed,
                     device=args.device)


# ------------------------------------------------------------------------------ plain loop


class PlainData:
    """The cell's data as a person would hold it: one tensor on the device, sampled by hand."""

    def __init__(self, cfg: RunConfig, device: torch.device) -> None:
        data = DATASETS.get(cfg.dataset)(cfg.data_root)
        self.spec = MODELS.get(cfg.model)
        self.kind, self.shape = data.kind, data.resized(self.spec.image_size).shape
        if data.kind == "points":
            self.modes, self.std = data.modes.to(device), data.mode_std
        else:
            self.images = data.images.to(device)

    def sample(self, b: int) -> torch.Tensor:
        if self.kind == "points":
            idx = torch.randint(len(self.modes), (b,), device=self.modes.device)
            return self.modes[idx] + self.std * torch.randn(b, 2, device=self.modes.device)
        idx = torch.randint(len(self.images), (b,), device=self.images.device)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        size = self.shape[-1]
        if x.shape[-1] != size:  # 28x28 digits for the 64x64 nets, as ganbench does
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        return x


def plain_run(cfg: RunConfig, device: torch.device, data: PlainData) -> None:
    torch.manual_seed(cfg.seed)
    spec = data.spec
    g, d = spec.build(spec.z_dim, data.shape, spec.d_norm)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=cfg.betas)
    b = cfg.batch_size
    ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
    for step in range(1, cfg.steps + 1):
        real = data.sample(b)
        with torch.no_grad():
            fake = g(torch.randn(b, spec.z_dim, device=device))
        d_loss = (F.binary_cross_entropy_with_logits(d(real), ones)
                  + F.binary_cross_entropy_with_logits(d(fake), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        fake = g(torch.randn(b, spec.z_dim, device=device))
        g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            d_loss.item(), g_loss.item()


# ------------------------------------------------------------------------------ modes


def timed(device: torch.device, fn) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def run_plain(args, steps: int, data: PlainData) -> float:
    device = torch.device(args.device)
    cfgs = [make_cfg(args, s, steps) for s in range(args.runs)]
    return timed(device, lambda: [plain_run(c, device, data) for c in cfgs])


def run_train(args, steps: int) -> float:
    cfgs = [make_cfg(args, s, steps) for s in range(args.runs)]

    def go() -> None:
        for c in cfgs:
            if train(c).status != "finished":
                raise RuntimeError(f"seed {c.seed} diverged")

    return timed(torch.device(args.device), go)


def run_vec(args, steps: int, seeds: int) -> float:
    cfgs = [make_cfg(args, s, steps) for s in range(seeds)]

    def go() -> None:
        if any(r.status != "finished" for r in train_vectorised(cfgs)):
            raise RuntimeError("a seed diverged")

    return timed(torch.device(args.device), go)


def _proc_main(args, threads: int, barrier, out, plain: bool = False) -> None:
    """One packed process: warm up, wait for the others, then train its seeds."""
    torch.set_num_threads(threads)
    if plain:
        data = PlainData(make_cfg(args, 0, 1), torch.device(args.device))
        work = (lambda n: run_plain(args, n, data))
    else:
        work = ((lambda n: run_vec(args, n, args.procs_seeds)) if args.procs_seeds
                else (lambda n: run_train(args, n)))
    work(args.warmup_steps)
    barrier.wait()
    t0 = time.monotonic()  # system-wide on Linux, so comparable across the processes
    work(args.steps)
    out.put((t0, time.monotonic()))


def run_procs(args, k: int, plain: bool = False) -> float:
    """Wall seconds from the moment all K (warmed-up) processes start to the last one's end."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(k), ctx.Queue()
    threads = max(1, torch.get_num_threads() // k)
    procs = [ctx.Process(target=_proc_main, args=(args, threads, barrier, out, plain))
             for _ in range(k)]
    for p in procs:
        p.start()
    spans = [out.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a packed process failed (exit code {p.exitcode})")
    return max(e for _, e in spans) - min(s for s, _ in spans)


def run_sweep(args, steps: int, workers: int, vectorise: str) -> float:
    """The whole sweep machinery: plan, Optuna queue, `workers` worker processes, MLflow
    child runs with artifacts (no report), for args.sweep_seeds seeds of the cell."""
    import tempfile

    import yaml

    from ganbench.sweep.runner import SweepOptions, prepare, run_workers

    base = {k: v for k, v in make_cfg(args, 0, steps).model_dump(mode="json").items()
            if k in ("dataset", "model", "loss", "steps", "batch_size", "lr", "log_every")}
    spec = {"name": "throughput", "base": base, "seeds": args.sweep_seeds,
            "metric": {"name": "modes" if args.dataset in ("ring8", "grid25") else "steps"}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        opts = SweepOptions(results=Path(tmp) / "results", workers=workers, device=args.device,
                            vectorise=vectorise, checkpoint_every=0)
        t0 = time.perf_counter()
        sw = prepare(path, opts)
        counts = run_workers(sw, opts)
        seconds = time.perf_counter() - t0
    if counts["finished"] != args.sweep_seeds:
        raise RuntimeError(f"sweep mode: {counts}")
    return seconds


# ------------------------------------------------------------------------------ main


def same_work_check(args) -> str:
    """A short vectorised run against lone train() runs: the stacked seeds do the same work."""
    cfgs = [make_cfg(args, s, 20) for s in range(2)]
    stacked = train_vectorised(cfgs)
    diff = 0.0
    for cfg, res in zip(cfgs, stacked, strict=True):
        alone = train(cfg)
        diff = max(diff, max((a - b).abs().max().item()
                             for a, b in zip(alone.g.parameters(), res.g.parameters(),
                                             strict=True)))
    return (f"max |dG| = {diff:.2g} after 20 steps (float rounding amplified by training; "
            "tests/unit/train/test_vectorised.py)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="training steps per run (300)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats (3)")
    p.add_argument("--vec", type=int, nargs="*", default=[3, 8, 16],
                   help="seed counts S to train vectorised (3 8 16)")
    p.add_argument("--runs", type=int, default=3,
                   help="runs trained one after another by plain/train (3)")
    p.add_argument("--procs", type=int, nargs="*", default=[],
                   help="also K packed processes running train() (e.g. --procs 2 4)")
    p.add_argument("--procs-seeds", type=int, default=0,
                   help="packed processes run train_vectorised over S seeds each instead")
    p.add_argument("--sweep", type=int, nargs="*", default=[],
                   help="also the real sweep machinery with W workers, run by run and "
                   "vectorised (e.g. --sweep 1 2)")
    p.add_argument("--sweep-seeds", type=int, default=6,
                   help="seeds of the cell in --sweep mode (6)")
    p.add_argument("--command", type=int, nargs="*", default=[],
                   help="also the whole `ganbench sweep --workers W` command (e.g. --command 2)")
    p.add_argument("--command-seeds", type=int, default=16,
                   help="seeds of the cell in --command mode (16)")
    p.add_argument("--memory-runs", type=int, default=0,
                   help="also one worker over N tiny runs: its RSS at run 1, N/2 and N")
    p.add_argument("--memory-steps", type=int, default=10, help="steps per tiny run (10)")
    p.add_argument("--eval-share", action="store_true",
                   help="also time evaluation's share of a run")
    p.add_argument("--model", default="mlp")
    p.add_argument("--dataset", default="ring8")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="(the quickstart cell's, 2e-3)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's current)")
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--out", type=Path, default=None, help="also write the report as markdown")
    args = p.parse_args(argv)

    device = open_device(args.device, args.threads)
    if device is None:
        return 2
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"device: {device} ({device_name(device)}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, python {platform.python_version()}")
    say(f"cell: {args.dataset}/{args.model}/ns, no tricks, batch {args.batch}, lr {args.lr}, "
        f"{args.steps} steps per run, log_every {args.log_every}; plain and train run "
        f"{args.runs} seeds one after another; {args.repeats} repeats")
    load0 = os.getloadavg()[0]

    data = PlainData(make_cfg(args, 0, 1), device)
    modes = [("plain", args.runs, lambda n: run_plain(args, n, data)),
             ("train", args.runs, lambda n: run_train(args, n))]
    modes += [(f"vec S={s}", s, lambda n, s=s: run_vec(args, n, s)) for s in args.vec]
    for fn in (m[2] for m in modes):  # warm-up: allocator, kernels, vmap, lazy imports
        fn(args.warmup_steps)
    say(f"same work check: {same_work_check(args)}")
    per_proc = args.procs_seeds or args.runs
    label = f" x vec S={args.procs_seeds}" if args.procs_seeds else ""
    modes += [(f"procs K={k}{label}", k * per_proc, lambda n, k=k: run_procs(args, k))
              for k in args.procs]

    for w in args.sweep:  # no warm-up call: each sweep starts fresh processes anyway
        for vec in ("off", "on"):
            modes.append((f"sweep W={w}{' vec' if vec == 'on' else ''}", args.sweep_seeds,
                          lambda n, w=w, vec=vec: run_sweep(args, n, w, vec)))
    if args.command:  # the yardstick of the whole command: two plain loops side by side
        modes.append(("plain x2", 2 * args.runs, lambda n: run_procs(args, 2, plain=True)))
    base = {k: v for k, v in make_cfg(args, 0, args.steps).model_dump(mode="json").items()
            if k in ("dataset", "model", "loss", "steps", "batch_size", "lr", "log_every")}
    commands: dict[int, list[dict]] = {w: [] for w in args.command}
    rates: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    for r in range(args.repeats):
        row = []
        for name, runs, fn in modes:
            rates[name].append(runs * args.steps / fn(args.steps))
            row.append(f"{name} {rates[name][-1]:.0f}")
        for w in args.command:
            commands[w].append(run_command(base, args.command_seeds, w, args.device, r == 0))
            row.append(f"command W={w} {commands[w][-1]['wall']:.1f} s")
        print(f"repeat {r + 1}: " + ", ".join(row), flush=True)

    plain = rates["plain"]
    say()
    say("| mode | runs at once | aggregate steps/s (median) | ratio to plain (median) "
        "| ratio range |")
    say("|---|---:|---:|---:|---|")
    for name, runs, _ in modes:
        ratios = [x / y for x, y in zip(rates[name], plain, strict=True)]
        at_once = 1 if name in ("plain", "train") else 2 if name == "plain x2" else runs
        say(f"| {name} | {at_once} | {statistics.median(rates[name]):.0f} | "
            f"{statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |")
    for w, runs in commands.items():
        report_command(say, w, runs, rates["plain x2"], args.command_seeds * args.steps,
                       args.steps)
    if args.memory_runs:
        report_memory(say, run_memory({**base, "steps": args.memory_steps}, args.memory_runs,
                                      args.device), args.memory_runs, args.memory_steps)
    if args.eval_share:
        report_eval_share(say, args, make_cfg, train)
    load1 = os.getloadavg()[0]
    say()
    say(f"1-min load average {load0:.2f} at start, {load1:.2f} at end ({os.cpu_count()} CPUs); "
        "other processes' load makes these numbers noisy")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = " ".join(["python benchmarks/perf/sweep_throughput.py", *(argv or sys.argv[1:])])
        args.out.write_text(f"# Sweep throughput\n\n`{cmd}`\n\n" + "\n".join(
            f"{line}  " if line and not line.startswith("|") else line for line in lines) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
