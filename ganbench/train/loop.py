"""The training loop: D step(s) then G step, every trick reached only through the TrickStack.

Hot-loop rule: no host synchronisation per step. Loss terms stay on the device and are
fetched once per logging window, where non-finite values are also detected (the run stops
with the first bad step and term; at most one window of extra work). Checkpoints, too, are
taken only at the end of a window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import DATASETS
from ganbench.losses import LOSSES
from ganbench.metrics import available_metrics, mode_metrics, update_best
from ganbench.metrics.fidelity import FidelityEvaluator
from ganbench.models import MODELS
from ganbench.tracking import Tracker
from ganbench.train.checkpoint import FORMAT_VERSION, Checkpointer, check_compatible
from ganbench.train.state import Progress, RunResult
from ganbench.tricks import TrickStack
from ganbench.tricks.base import OptimSpec, StepContext
from ganbench.validate import caveats, resolve_defaults


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _to_device(obj: Any, device: torch.device) -> Any:
    """`obj` with every tensor in it (nested dicts, lists, tuples) moved to `device`."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


class Trainer:
    """Holds one run's nets, optimisers and tricks; `step()` does one D/G iteration."""

    def __init__(self, cfg: RunConfig) -> None:
        cfg = resolve_defaults(cfg)
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick kernels once
        torch.manual_seed(cfg.seed)  # model init and the tricks' own draws
        # Data and z come from the run's own stream, so runs stacked in one process
        # (vectorised seeds) draw exactly what they would draw alone.
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        spec = MODELS.get(cfg.model)
        data = DATASETS.get(cfg.dataset)(cfg.data_root).to(self.device)
        self.data = data.resized(spec.image_size) if data.kind == "images" else data
        self.stack = TrickStack.from_config(cfg)
        g, d = spec.build(cfg.z_dim, self.data.shape, cfg.d_norm, **self.stack.model_options())
        self.g, self.d = self.stack.build(g.to(self.device), d.to(self.device))
        o = self.stack.optimizers(OptimSpec(cfg.lr, cfg.lr, cfg.betas, cfg.betas))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=o.g_lr, betas=o.g_betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=o.d_lr, betas=o.d_betas)
        self.loss = LOSSES.get(cfg.loss)()
        self.n_d = self.stack.d_steps()
        self.d_steps_done = 0
        b = cfg.batch_size
        self.ones = torch.ones(b, device=self.device)
        self.zeros = torch.zeros(b, device=self.device)
        # Image metrics: weights and the real reference are resolved now, so a missing file
        # fails before training rather than after it.
        self.fidelity = (FidelityEvaluator.for_run(cfg, self.data, self.device)
                         if self.data.kind == "images" and cfg.image_metrics else None)
        self.eval_tags: dict[str, str] = {}  # protocol.<metric> / unavailable.<metric>

    def z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.device, generator=self.gen)

    def real(self, n: int) -> torch.Tensor:
        return self.data.sample(n, self.gen)

    def d_step(self, step: int) -> dict[str, torch.Tensor]:
        self.d_steps_done += 1
        b = self.cfg.batch_size
        real = self.real(b)
        with torch.no_grad():
            fake = self.g(self.z(b))
        real, fake = self.stack.d_inputs(real, fake, step)
        d_real, d_fake = self.d(real), self.d(fake)
        real_t, fake_t = self.stack.d_targets(self.ones, self.zeros)
        terms = {"adv": self.loss.d_loss(d_real, d_fake, real_t, fake_t)}
        ctx = StepContext(self.g, self.d, real, fake, d_real, d_fake, step)
        terms.update(self.stack.d_terms(ctx))
        self.opt_d.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.opt_d.step()
        return terms

    def g_step(self, step: int) -> dict[str, torch.Tensor]:
        fake = self.g(self.z(self.cfg.batch_size))
        _, fake_in = self.stack.d_inputs(None, fake, step)
        d_fake = self.d(fake_in)
        ctx = StepContext(self.g, self.d, None, fake_in, None, d_fake, step,
                          sample_real=lambda: self.real(self.cfg.batch_size))
        terms = {"adv": self.loss.g_loss(d_fake)}
        terms.update(self.stack.g_terms(ctx))
        self.opt_g.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.opt_g.step()
        self.stack.after_step(ctx)
        return terms

    def step(self, step: int) -> dict[str, torch.Tensor]:
        """One iteration; returns {'d/<term>': t, 'g/<term>': t} (D terms of the last D step)."""
        for _ in range(self.n_d):
            d_terms = self.d_step(step)
        g_terms = self.g_step(step)
        out = {f"d/{k}": v.detach() for k, v in d_terms.items()}
        out.update({f"g/{k}": v.detach() for k, v in g_terms.items()})
        return out

    def state_dict(self) -> dict[str, Any]:
        """Everything later steps depend on: a fresh Trainer for the same config that loads
        this continues exactly as this one would. Tensors share storage with the live run."""
        rng = {
            # Data and z come from the run's own generator; model init and the tricks' own
            # draws (penalties, label noise, augmentations) from the global one.
            "run": self.gen.get_state(),
            "cpu": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": FORMAT_VERSION,
            "config": self.cfg.model_dump_json(),
            "device_type": self.device.type,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),  # spectral norm's power-iteration vectors are buffers
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "d_steps_done": self.d_steps_done,
            "tricks": self.stack.state_dict(),
            "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`'s output; ValueError if it was written for another config
        or device type (RNG states of CPU and CUDA generators are not interchangeable)."""
        check_compatible(state, self.cfg)
        if state["device_type"] != self.device.type:
            raise ValueError(f"the checkpoint was written on {state['device_type']}, this run "
                             f"is on {self.device.type}; its random streams cannot continue "
                             "on another device type: resume there or delete the checkpoint")
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.d_steps_done = int(state["d_steps_done"])
        self.stack.load_state_dict(_to_device(state["tricks"], self.device))
        rng = state["rng"]
        self.gen.set_state(rng["run"])
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    @property
    def eval_g(self) -> torch.nn.Module:
        """The generator evaluation, samples and saved weights use (EMA's when it is on)."""
        return self.stack.eval_generator(self.g)

    def eval_z(self, n: int) -> torch.Tensor:
        """Fixed evaluation noise from its own generator: evaluating never shifts the training
        RNG stream (results do not depend on eval_every) and every evaluation sees the same z."""
        if getattr(self, "_eval_z", None) is None or len(self._eval_z) != n:
            gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed + 7919)
            self._eval_z = torch.randn(n, self.cfg.z_dim, device=self.device, generator=gen)
        return self._eval_z

    @torch.no_grad()
    def evaluate(self, g: nn.Module | None = None) -> dict[str, float]:
        """Metrics of `g` (default: eval_g). G stays in train mode: its batch statistics are
        the ones it was trained with."""
        g = self.eval_g if g is None else g
        if self.data.kind != "points":
            if self.fidelity is None:
                return {}  # no image_metrics asked for
            res = self.fidelity(g, self.cfg.z_dim)
            self.eval_tags = res.tags()
            return res.metrics
        samples = g(self.eval_z(self.cfg.eval_samples))
        return mode_metrics(samples, self.data.modes, self.data.mode_std)


def train(cfg: RunConfig, tracker: Tracker | None = None,
          progress: Callable[[Progress], None] | None = None,
          checkpoints: Checkpointer | None = None) -> RunResult:
    """Train one configuration; a non-finite loss ends the run as `diverged`, not an error.

    With `checkpoints`, a run that has a saved state resumes from it (and re-logs the
    history logged before it), and a state is saved at the end of each logging window that
    finishes `checkpoints.every` or more steps after the last save; the resumed run's
    results are identical to an uninterrupted run's."""
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    cfg = tr.cfg
    found = caveats(cfg)
    if tracker:
        tracker.set_tags({"data_source": tr.data.source, "device": str(tr.device),
                          "eval_generator": "ema" if tr.eval_g is not tr.g else "raw",
                          "caveats": "; ".join(map(str, found)) or "none"})
    window: list[torch.Tensor] = []
    names: list[str] = []
    metrics: dict[str, float] = {}
    goals = available_metrics(tr.data.kind, cfg)
    best: dict[str, tuple[float, int]] = {}  # metric -> (best value, its step)
    # Everything logged, as (metrics, step): a checkpoint carries it, so the tracker of a
    # resumed run gets the whole history and not only the steps after the resume.
    logged: list[tuple[dict[str, float], int]] = []
    step, resumed_from = 0, None
    state = checkpoints.load() if checkpoints else None
    if state is not None:
        tr.load_state_dict(state)
        loop = state["loop"]
        # Checkpoints are taken at window ends: the next window starts at `step`, and which
        # steps end a window depends on the step alone, so windows line up as before.
        step = resumed_from = int(loop["step"])
        metrics = dict(loop["metrics"])
        best = {k: (v, at) for k, (v, at) in loop["best"].items()}
        logged = [(dict(m), int(at)) for m, at in loop["logged"]]
        tr.eval_tags = dict(loop["eval_tags"])
        if tracker:
            tracker.set_tags({"resumed_from_step": str(step)})
            for m, at in logged:
                tracker.log_metrics(m, at)
            if tr.eval_tags:
                tracker.set_tags(tr.eval_tags)
    last_save = step

    def log(values: dict[str, float], at: int) -> None:
        logged.append((values, at))
        if tracker:
            tracker.log_metrics(values, at)

    w_start, w_time = step, time.perf_counter()
    status, bad_step, bad_term = "finished", None, None
    while step < cfg.steps:
        terms = tr.step(step)
        if not names:
            names = list(terms)
        window.append(torch.stack(list(terms.values())))
        step += 1
        last = step == cfg.steps
        do_eval = last or (cfg.eval_every > 0 and step % cfg.eval_every == 0)
        if step % cfg.log_every and not do_eval:
            continue
        # One host sync per window: fetch every term of every step at once.
        values = torch.stack(window).cpu()
        window.clear()
        bad = ~torch.isfinite(values)
        if bad.any():
            row, col = bad.nonzero()[0].tolist()
            status, bad_step, bad_term = "diverged", w_start + row, names[col]
            if tracker:
                tracker.set_tags({"status": "diverged", "diverged_step": str(bad_step),
                                  "diverged_term": bad_term})
            break
        now = time.perf_counter()
        rate = (step - w_start) / max(now - w_time, 1e-9)
        losses = dict(zip(names, values.mean(0).tolist(), strict=True))
        log({f"train/{k}": v for k, v in losses.items()}, step)
        log({"perf/steps_per_s": rate}, step)
        evaluated = None
        if do_eval:
            metrics = evaluated = tr.evaluate()
            update_best(best, metrics, goals, step)
            if metrics:
                log({f"eval/{k}": v for k, v in metrics.items()}, step)
                if tracker and tr.eval_tags:
                    tracker.set_tags(tr.eval_tags)
        # Saved after the evaluation: evaluating G in train mode updates its batch-norm
        # running statistics, which are part of the state.
        if checkpoints and checkpoints.every > 0 and step - last_save >= checkpoints.every:
            loop = {"step": step, "metrics": metrics, "best": best, "logged": logged,
                    "eval_tags": tr.eval_tags}
            checkpoints.save({**tr.state_dict(), "loop": loop}, step)
            last_save = step
        if progress:
            progress(Progress(step, cfg.steps, losses, rate, evaluated))
        w_start, w_time = step, time.perf_counter()
    if tracker:
        if status == "finished":
            tracker.log_metrics({f"eval/{k}/final": v for k, v in metrics.items() if k in goals},
                                step)
            tracker.set_tags({"status": "finished"})
        for k, (v, at) in best.items():
            tracker.log_metrics({f"eval/{k}/best": v, f"eval/{k}/best_step": at}, at)
    return RunResult(status, step if status == "finished" else bad_step, metrics,
                     time.perf_counter() - t0, tr.eval_g, tr.d, tr.data, str(tr.device), found,
                     bad_step, bad_term, cfg, resumed_from=resumed_from)
