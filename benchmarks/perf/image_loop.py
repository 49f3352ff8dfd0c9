"""Image runs against a plain loop: ganbench's `train()` beside a hand-written PyTorch loop of
the same nets, loss, optimiser and batch, in one script run (issue 32, item 2).

Models: dcgan28 on MNIST-shaped data (1x28x28) and sngan32 / sndcgan32 on CIFAR-shaped data
(3x32x32), at widths given on the command line (the full widths are GPU work). The data is
random uint8 images registered as a dataset by this script (the same way a plugin adds one),
so nothing is downloaded and both sides index the same tensor.

Both sides: `MODELS.get(name).build(...)` for G and D (so the nets are the same code), Adam
with the config's lr and betas, the ns loss as BCE-with-logits, one D step (fakes under
no_grad) then one G step with fresh z, `zero_grad(set_to_none=True)`, the losses read back
every `log_every` steps, real batches drawn as `images[randint].float() / 127.5 - 1`.
ganbench's side is the whole `train(cfg)` call with evaluation off (no image metrics,
`eval_every` 0), so its time includes building the Trainer. The sides are interleaved
(ours, plain, ours, plain, ...) for --repeats repeats; the headline is the median ratio.

The evaluation share: one `evaluate()` of a run with FID on --fid-samples generated vs as
many real images (torch-fidelity's Inception, cached weights), timed, then the share a run
with the recipe's eval_every (benchmarks/cifar10-*.yaml: 25,000 steps; mnist-dcgan.yaml:
1,000) would spend evaluating at that sample count, from the measured step time. The full
recipes use 10k-50k samples, and an evaluation's time grows linearly with them.

    python benchmarks/perf/image_loop.py [--models dcgan28 sngan32 sndcgan32] [--width 32]
        [--batch-size 64] [--repeats 5] [--threads T] [--fid-samples 0] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from perf_common import device_name, emit, load_line, open_device

from ganbench.config import RunConfig
from ganbench.data.base import DATASETS, Dataset, DatasetSpec, register_dataset
from ganbench.models import MODELS
from ganbench.train import Trainer, train

TARGET = 0.95
SHAPES = {"perf-mnist-shaped": (1, 28, 28), "perf-cifar-shaped": (3, 32, 32)}
DATA_FOR = {"dcgan28": "perf-mnist-shaped", "sngan32": "perf-cifar-shaped",
            "sndcgan32": "perf-cifar-shaped"}
RECIPE_EVAL_EVERY = {"dcgan28": (1000, "mnist-dcgan.yaml"),
                     "sngan32": (25000, "cifar10-sngan.yaml"),
                     "sndcgan32": (25000, "cifar10-kurach.yaml")}
N_IMAGES = 4096
_IMAGES: dict[str, torch.Tensor] = {}


def images_of(name: str) -> torch.Tensor:
    if name not in _IMAGES:
        gen = torch.Generator().manual_seed(0)
        _IMAGES[name] = torch.randint(0, 256, (N_IMAGES, *SHAPES[name]), generator=gen,
                                      dtype=torch.uint8)
    return _IMAGES[name]


def register_synthetic() -> None:
    for name, shape in SHAPES.items():
        if name not in DATASETS.names():
            register_dataset(DatasetSpec(
                name, "images", lambda root, _n=name: Dataset(_n, "images", "random uint8",
                                                               images=images_of(_n)),
                shape=shape, source="random uint8 images (benchmarks/perf/image_loop.py)"))


def make_cfg(args: argparse.Namespace, model: str, steps: int, **extra) -> RunConfig:
    widths = {}
    if MODELS.get(model).widths is not None and args.width:
        widths = {"g_width": args.width, "d_width": args.width}
    return RunConfig(dataset=DATA_FOR[model], model=model, loss="ns", tricks={}, steps=steps,
                     batch_size=args.batch_size, seed=0, device=args.device, eval_every=0,
                     image_metrics=[], **widths, **extra)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(cfg: RunConfig, device: torch.device) -> float:
    """The hand-written loop; returns its seconds (building the nets included)."""
    sync(device)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    spec = MODELS.get(cfg.model)
    data = images_of(cfg.dataset).to(device)
    options = ({"g_width": cfg.g_width, "d_width": cfg.d_width}
               if spec.widths is not None else {})
    z_dim = cfg.z_dim or spec.z_dim
    g, d = spec.build(z_dim, tuple(data.shape[1:]), cfg.d_norm or spec.d_norm, **options)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=cfg.betas)
    b = cfg.batch_size
    ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(len(data), (b,), device=device, generator=gen)
        real = data[idx].float().div_(127.5).sub_(1.0)
        with torch.no_grad():
            fake = g(torch.randn(b, z_dim, device=device, generator=gen))
        d_loss = (F.binary_cross_entropy_with_logits(d(real), ones)
                  + F.binary_cross_entropy_with_logits(d(fake), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        fake = g(torch.randn(b, z_dim, device=device, generator=gen))
        g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            d_loss.item(), g_loss.item()
    sync(device)
    return time.perf_counter() - t0


def time_ours(cfg: RunConfig, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    result = train(cfg)
    sync(device)
    assert result.status == "finished", result.status
    return time.perf_counter() - t0


def eval_seconds(args: argparse.Namespace, model: str, device: torch.device) -> float:
    """One evaluate() with FID on --fid-samples generated vs as many real images."""
    n = args.fid_samples
    cfg = make_cfg(args, model, 1).model_copy(update={
        "image_metrics": ["fid"], "fid_samples": n, "fid_real_samples": n,
        "fid_batch_size": min(n, 64)})
    tr = Trainer(cfg)
    tr.evaluate()  # the reference statistics and the Inception weights, once
    sync(device)
    t0 = time.perf_counter()
    tr.evaluate()
    sync(device)
    return time.perf_counter() - t0


def measure(args: argparse.Namespace, model: str, device: torch.device) -> dict:
    warm = make_cfg(args, model, args.warmup_steps)
    time_ours(warm, device)
    t_warm = plain_loop(warm, device)
    steps = args.steps or max(20, int(round(args.run_seconds * args.warmup_steps / t_warm, -1)))
    cfg = make_cfg(args, model, steps)
    ratios, ours, plain = [], [], []
    for _ in range(args.repeats):
        o = steps / time_ours(cfg, device)
        p = steps / plain_loop(cfg, device)
        ours.append(o)
        plain.append(p)
        ratios.append(o / p)
        print(f"  {model}: ours {o:7.2f} steps/s, plain {p:7.2f}, ratio {o / p:.3f}",
              flush=True)
    out = {"model": model, "data": DATA_FOR[model], "steps": steps, "ours": ours,
           "plain": plain, "ratios": ratios,
           "width": cfg.g_width if MODELS.get(model).widths is not None else None}
    if args.fid_samples:
        every, recipe = RECIPE_EVAL_EVERY[model]
        e = eval_seconds(args, model, device)
        run_s = every / statistics.median(ours)
        out["eval"] = (e, every, recipe, e / (run_s + e))
    return out


def render(args: argparse.Namespace, device: torch.device, rows: list[dict], load0: float,
           command: str) -> str:
    lines = ["# Image runs against a plain loop", "", f"`{command}`", "",
             f"device: {device} ({device_name(device)}), torch {torch.__version__}, threads "
             f"{torch.get_num_threads()}, python {platform.python_version()}  ",
             f"both sides: loss ns, Adam (lr {RunConfig().lr}, betas {RunConfig().betas}), "
             f"batch {args.batch_size}, evaluation off, {args.repeats} interleaved repeats; "
             f"random uint8 images ({N_IMAGES})  ", "",
             "| model | data | width | steps per run | ours steps/s (median) | plain steps/s "
             "(median) | ratio (median) | ratio range |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['data']} | {r['width'] or 'fixed'} | {r['steps']} | "
            f"{statistics.median(r['ours']):.2f} | {statistics.median(r['plain']):.2f} | "
            f"{statistics.median(r['ratios']):.3f} | {min(r['ratios']):.3f}-"
            f"{max(r['ratios']):.3f} |")
    if any("eval" in r for r in rows):
        lines += ["", f"| model | one evaluation (FID, {args.fid_samples} vs {args.fid_samples})"
                  " s | recipe eval_every | share of a run at that sample count |",
                  "|---|---:|---|---:|"]
        for r in rows:
            if "eval" in r:
                e, every, recipe, share = r["eval"]
                lines.append(f"| {r['model']} | {e:.2f} | {every} ({recipe}) | "
                             f"{100 * share:.2f}% |")
    med = statistics.median(statistics.median(r["ratios"]) for r in rows)
    lines += ["", load_line(load0) + "  ",
              f"{'PASS' if all(statistics.median(r['ratios']) >= TARGET for r in rows) else 'FAIL'}"
              f": every model's median ratio >= {TARGET} (median over models {med:.3f})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(DATA_FOR), choices=list(DATA_FOR))
    p.add_argument("--width", type=int, default=32,
                   help="g_width = d_width for models with widths (default 32; 0 = the paper's)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=None,
                   help="steps per timed run (default: calibrated to --run-seconds)")
    p.add_argument("--run-seconds", type=float, default=5.0)
    p.add_argument("--warmup-steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--fid-samples", type=int, default=0,
                   help="time one FID evaluation at this many samples (0: skip)")
    p.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = p.parse_args(argv)
    device = open_device(args.device, args.threads)
    if device is None:
        return 2
    register_synthetic()
    load0 = os.getloadavg()[0]
    rows = [measure(args, m, device) for m in args.models]
    command = "python benchmarks/perf/image_loop.py " + " ".join(argv or sys.argv[1:])
    emit(render(args, device, rows, load0, command.strip()), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
