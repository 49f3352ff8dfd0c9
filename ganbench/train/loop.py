"""The training loop: D step(s) then G step, every trick reached only through the TrickStack.

Hot-loop rule: no host synchronisation per step. Loss terms stay on the device and are
fetched once per logging window, where non-finite values are also detected (the run stops
with the first bad step and term; at most one window of extra work). Checkpoints, too, are
taken only at the end of a window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import DATASETS, Dataset
from ganbench.losses import LOSSES
from ganbench.metrics import IMAGE_OUTPUTS, mode_metrics
from ganbench.metrics.fidelity import FidelityEvaluator
from ganbench.metrics.labels import LabelEvaluator
from ganbench.models import MODELS
from ganbench.tracking import Tracker
from ganbench.train.checkpoint import FORMAT_VERSION, Checkpointer, check_compatible
from ganbench.train.runlog import LossWindow, RunLog, window_end
from ganbench.train.state import Progress, RunResult
from ganbench.tricks import TrickStack
from ganbench.tricks.base import OptimSpec, StepContext
from ganbench.validate import conflict_error, resolve_defaults


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

    def __init__(self, cfg: RunConfig, data: Dataset | None = None, *,
                 optimisers: bool = True) -> None:
        """`data`: the run's dataset when the caller has it already (another Trainer's
        `data`: runs stacked in one process share one copy); loaded here when None.
        `optimisers=False`: build no optimisers (`opt_g`, `opt_d` are None) for a Trainer
        whose nets another optimiser trains (vectorised seeds', built with `optimiser()`)."""
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
        if data is None:
            data = DATASETS.get(cfg.dataset)(cfg.data_root)
        elif data.name != cfg.dataset:
            raise ValueError(f"the dataset given is {data.name!r}, the config's {cfg.dataset!r}")
        data = data.to(self.device)  # no copy when it is there already
        self.data = data.resized(spec.image_size) if data.kind == "images" else data
        self.stack = TrickStack.from_config(cfg)
        g, d = spec.build(cfg.z_dim, self.data.shape, cfg.d_norm, **self.stack.model_options())
        self.g, self.d = self.stack.build(g.to(self.device), d.to(self.device))
        self.optim = self.stack.optimizers(OptimSpec(cfg.lr, cfg.lr, cfg.betas, cfg.betas))
        self.opt_g = self.optimiser("g", self.g.parameters()) if optimisers else None
        self.opt_d = self.optimiser("d", self.d.parameters()) if optimisers else None
        self.loss = LOSSES.get(cfg.loss)()
        self.n_d = self.stack.d_steps()
        self.d_steps_done = 0
        b = cfg.batch_size
        self.ones = torch.ones(b, device=self.device)
        self.zeros = torch.zeros(b, device=self.device)
        # Image metrics: weights, the real reference and the classifier are resolved now, so
        # a missing file fails before training rather than after it.
        images = self.data.kind == "images"
        self.fidelity = (FidelityEvaluator.for_run(cfg, self.data, self.device)
                         if images and any(m in IMAGE_OUTPUTS for m in cfg.image_metrics)
                         else None)
        self.labels = LabelEvaluator.for_run(cfg, self.data) if images else None
        self.eval_tags: dict[str, str] = {}  # protocol.<metric> / unavailable.<metric>

    def optimiser(self, net: Literal["g", "d"], params: Iterable[torch.Tensor]
                  ) -> torch.optim.Optimizer:
        """The optimiser of G or D (rates and betas after the tricks', e.g. TTUR) over
        `params`: that net's own, or seed-stacked ones (Adam is element-wise)."""
        o = self.optim
        lr, betas = (o.g_lr, o.g_betas) if net == "g" else (o.d_lr, o.d_betas)
        return torch.optim.Adam(params, lr=lr, betas=betas)

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

    def state_dict(self, *, optimisers: tuple[dict[str, Any], dict[str, Any]] | None = None,
                   global_rng: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """Everything later steps depend on: a fresh Trainer for the same config that loads
        this continues exactly as this one would. Tensors share storage with the live run.

        For a Trainer whose optimisers and global RNG state are kept elsewhere (a vectorised
        seed's: `VectorisedTrainer.seed_state`), `optimisers` gives the (G, D) optimiser
        states and `global_rng` the global RNG states ({"cpu": ..., "cuda": ...} as below)
        to write in place of this Trainer's own."""
        if global_rng is None:
            global_rng = {"cpu": torch.get_rng_state()}
            if self.device.type == "cuda":
                global_rng["cuda"] = torch.cuda.get_rng_state(self.device)
        # Data and z come from the run's own generator; model init and the tricks' own draws
        # (penalties, label noise, augmentations) from the global one.
        rng = {"run": self.gen.get_state(), **global_rng}
        opt_g, opt_d = optimisers or (self.opt_g.state_dict(), self.opt_d.state_dict())
        return {
            "format": FORMAT_VERSION,
            "config": self.cfg.model_dump_json(),
            "device_type": self.device.type,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),  # spectral norm's power-iteration vectors are buffers
            "opt_g": opt_g,
            "opt_d": opt_d,
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
            metrics: dict[str, float] = {}  # stays empty when no image_metrics are asked for
            tags: dict[str, str] = {}
            if self.fidelity is not None:
                res = self.fidelity(g, self.cfg.z_dim)
                metrics.update(res.metrics)
                tags.update(res.tags())
            if self.labels is not None:
                values, label_tags = self.labels(g, self.eval_z(self.cfg.eval_samples))
                metrics.update(values)
                tags.update(label_tags)
            self.eval_tags = tags
            return metrics
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
    conflict_error(cfg)  # a library call gets the checks a run file gets
    t0 = time.perf_counter()
    tr = Trainer(cfg)
    cfg = tr.cfg
    run = RunLog(tr, tracker, t0)
    run.start()
    state = checkpoints.load() if checkpoints else None
    if state is not None and state.get("device_type") != tr.device.type:
        # RNG streams do not carry over between device types, so the run could not end where
        # the interrupted one would have: start again (a GPU run retried on a CPU worker).
        if tracker:
            tracker.set_tags({"checkpoint_skipped": f"written on {state.get('device_type')}, "
                              f"this worker runs on {tr.device.type}: restarted from step 0"})
        state = None
    # Checkpoints are taken at window ends: the next window starts at the saved step.
    step = run.resume(state) if state is not None else 0
    if tracker and getattr(checkpoints, "corrupt", None):  # skipped for an older one or step 0
        tracker.set_tags({"checkpoint_corrupt": f"{'; '.join(checkpoints.corrupt)}; resumed "
                          f"from step {step}"[:4000]})
    last_save = step
    window = LossWindow(step)
    while step < cfg.steps:
        window.add(tr.step(step))
        step += 1
        log_now, eval_now = window_end(step, cfg)
        if not log_now:
            continue
        p = run.end_window(window.fetch(step), window, step, eval_now)  # one host sync
        if p is None:
            break  # diverged
        # Saved after the evaluation: evaluating G in train mode updates its batch-norm
        # running statistics, which are part of the state.
        if checkpoints and checkpoints.every > 0 and step - last_save >= checkpoints.every:
            checkpoints.save(run.checkpoint(step), step)
            last_save = step
        if progress:
            progress(p)
        window.restart(step)
    return run.result(step)
