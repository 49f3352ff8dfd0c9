"""Vectorised seeds ("several runs for the price of one"): the S seeds of one sweep cell
trained as one seed-stacked model, each seed ending where `train(cfg)` alone would.

G and D run once for all seeds (`vmap` over `functional_call`, train/stacked.py) and one
optimiser steps the stacked parameters (Adam is element-wise: S independent Adams). What
makes a seed's run equal to its lone run, up to float rounding:

- init: one `Trainer` per seed, built as `train()` builds it (global seed, then nets/tricks),
  but on one shared dataset and without optimisers of its own (the stacked ones train it);
- data and z: each seed draws from its Trainer's own generator, in the lone run's order;
- the tricks' own draws (penalties, noise, augmentations) use the global RNG: each seed's
  global RNG state is kept and swapped in around that seed's hook calls;
- the backpropagated total is the sum over seeds of each seed's loss (a mean over its own
  batch): every seed's slice of the stacked parameters gets exactly its own gradient;
- batch-norm statistics and spectral norm's power-iteration vectors are per-seed buffers.

Trick hooks run per seed, on that seed's slices and its own modules (bound to the stacked
tensors), and only the hooks some trick of the cell overrides. Terms that call a net again
(R1, gradient penalties, consistency, feature matching) therefore run seed by seed; the
adversarial forward/backward passes and the optimiser steps are shared.

Checkpoints: each seed can save, where its lone run would, the checkpoint its lone run would
save (`VectorisedTrainer.seed_state`: its slices of the stacked nets and Adam states, its
trick and RNG states), so a crashed stack's seeds each resume alone with `train()`. A stack
itself never resumes: the sweep's worker trains every retried run alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch.func import vmap

from ganbench.config import RunConfig
from ganbench.registry import UnknownNameError
from ganbench.tracking import Tracker
from ganbench.train.checkpoint import Checkpointer
from ganbench.train.loop import Trainer
from ganbench.train.runlog import LossWindow, RunLog, window_end
from ganbench.train.stacked import (
    StackedNet,
    copied,
    release,
    seed_optimiser_state,
    select_optimiser,
)
from ganbench.train.state import Progress, RunResult
from ganbench.tricks import TRICKS
from ganbench.tricks.base import StepContext, Trick

# Models whose nets vmap with per-seed results equal to the lone nets' (tests/unit/
# test_vectorised.py): linear, (transposed) conv, batch/layer/group norm, minibatch std,
# maxout.
SUPPORTED_MODELS = frozenset({"mlp", "dcgan28", "dcgan64", "pacgan"})
_SEED_HOOKS = ("d_inputs", "d_targets", "d_terms", "g_terms", "after_step")

SeedProgress = Callable[[int, Progress], None]  # (position in cfgs, that seed's progress)


def can_vectorise(cfg: RunConfig) -> str | None:
    """None when `cfg`'s seeds can be trained stacked, else the reason they cannot."""
    if cfg.model not in SUPPORTED_MODELS:
        return (f"model {cfg.model!r} is not supported by vectorised seeds "
                f"(supported: {', '.join(sorted(SUPPORTED_MODELS))})")
    for name in cfg.tricks:
        try:
            trick = TRICKS.get(name)
        except UnknownNameError as e:
            return str(e)
        if not trick.vectorisable:
            return (f"trick {name!r} is not vectorisable (not shown to give each seed its "
                    "lone run's results when stacked)")
    return None


def check_cell(cfgs: list[RunConfig]) -> None:
    """ValueError unless `cfgs` are one cell's runs: identical but for distinct seeds."""
    if not cfgs:
        raise ValueError("train_vectorised needs at least one config")
    ref = cfgs[0].identity(exclude={"seed"})
    for cfg in cfgs[1:]:
        other = cfg.identity(exclude={"seed"})
        diff = sorted(k for k in ref if ref[k] != other[k])
        if diff:
            raise ValueError(f"vectorised seeds must share everything but the seed; seed "
                             f"{cfg.seed} differs from seed {cfgs[0].seed} in {diff}")
    seeds = [c.seed for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"vectorised seeds must be distinct, got {seeds}")


class _SeedRng:
    """One seed's global RNG state (CPU, and its CUDA device's), active only around that
    seed's hook calls, so the tricks' own draws follow the lone run's stream."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextmanager
    def active(self) -> Iterator[None]:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
        try:
            yield
        finally:
            self.cpu = torch.get_rng_state()
            if self.cuda is not None:
                self.cuda = torch.cuda.get_rng_state(self.device)


def _overrides(tricks: list[Trick], hook: str) -> bool:
    return any(getattr(type(t), hook) is not getattr(Trick, hook) for t in tricks)


def _stack_terms(per_seed: list[dict[str, torch.Tensor]], device: torch.device
                 ) -> dict[str, torch.Tensor]:
    """[{name: scalar}] per seed -> {name: (S,)} (a term may be a 0-dim CPU tensor, which the
    lone loop's sum accepts next to device tensors)."""
    names = list(per_seed[0])
    if any(list(t) != names for t in per_seed):
        raise RuntimeError(f"seeds produced different loss terms: {[list(t) for t in per_seed]}")
    return {k: torch.stack([t[k].to(device) for t in per_seed]) for k in names}


def _total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    # Sum over seeds of each seed's summed terms: d total / d (seed s's loss) = 1.
    return sum(v.sum() for v in terms.values())


class VectorisedTrainer:
    """One Trainer per seed, trained as one stacked model; `step()` does one D/G iteration
    of every seed still running (`index`: their positions in the configs). The bookkeeping
    of each seed's run (logging, evaluation, divergence, result) is train()'s `RunLog`."""

    def __init__(self, cfgs: list[RunConfig]) -> None:
        self.trainers: list[Trainer] = []
        self.rngs: list[_SeedRng] = []
        for cfg in cfgs:
            # Seeds the global RNG and builds what the lone run builds, but its optimisers
            # (the stacked ones below train its nets), on the first seed's data (one copy).
            tr = Trainer(cfg, self.trainers[0].data if self.trainers else None,
                         optimisers=False)
            self.trainers.append(tr)
            self.rngs.append(_SeedRng(tr.device))  # taken before the next seed reseeds it
        first = self.trainers[0]
        self.cfg, self.device, self.loss, self.n_d = first.cfg, first.device, first.loss, first.n_d
        self.index = list(range(len(cfgs)))
        self.g = StackedNet([tr.g for tr in self.trainers])
        self.d = StackedNet([tr.d for tr in self.trainers])
        self.opt_g = first.optimiser("g", self.g.parameters())
        self.opt_d = first.optimiser("d", self.d.parameters())
        self._d_loss, self._g_loss = vmap(self.loss.d_loss), vmap(self.loss.g_loss)
        self.hooks = {h for h in _SEED_HOOKS if _overrides(first.stack.tricks, h)}

    # One iteration, as a lone run's (n_d D steps, then a G step); its terms are (S,) here.
    step = Trainer.step

    def _per_seed(self, fn: Callable[[int, Trainer], object]) -> list:
        out = []
        for s, tr in enumerate(self.trainers):
            with self.rngs[s].active():
                out.append(fn(s, tr))
        return out

    def d_step(self, step: int) -> dict[str, torch.Tensor]:
        trs, b = self.trainers, self.cfg.batch_size
        for tr in trs:
            tr.d_steps_done += 1
        real = torch.stack([tr.real(b) for tr in trs])  # (S, B, ...)
        z = torch.stack([tr.z(b) for tr in trs])
        with torch.no_grad():
            fake = self.g(z)
        real_t = trs[0].ones.expand(len(trs), -1)
        fake_t = trs[0].zeros.expand(len(trs), -1)
        if self.hooks & {"d_inputs", "d_targets"}:
            # D's forward draws nothing, so calling d_targets before it keeps the draw order.
            out = self._per_seed(lambda s, tr: (*tr.stack.d_inputs(real[s], fake[s], step),
                                                *tr.stack.d_targets(tr.ones, tr.zeros)))
            if "d_inputs" in self.hooks:
                real = torch.stack([o[0] for o in out])
                fake = torch.stack([o[1] for o in out])
            if "d_targets" in self.hooks:
                real_t = torch.stack([o[2] for o in out])
                fake_t = torch.stack([o[3] for o in out])
        d_real, d_fake = self.d(real), self.d(fake)  # (S, B)
        terms = {"adv": self._d_loss(d_real, d_fake, real_t, fake_t)}  # (S,)
        if "d_terms" in self.hooks:
            terms.update(_stack_terms(self._per_seed(lambda s, tr: tr.stack.d_terms(
                StepContext(tr.g, tr.d, real[s], fake[s], d_real[s], d_fake[s], step))),
                self.device))
        self.opt_d.zero_grad(set_to_none=True)
        _total(terms).backward(inputs=self.d.parameters())
        self.opt_d.step()
        return terms

    def g_step(self, step: int) -> dict[str, torch.Tensor]:
        trs, b = self.trainers, self.cfg.batch_size
        fake = self.g(torch.stack([tr.z(b) for tr in trs]))
        if "d_inputs" in self.hooks:
            fake = torch.stack(self._per_seed(
                lambda s, tr: tr.stack.d_inputs(None, fake[s], step)[1]))
        d_fake = self.d(fake)
        terms = {"adv": self._g_loss(d_fake)}
        ctxs = [StepContext(tr.g, tr.d, None, fake[s], None, d_fake[s], step,
                            sample_real=partial(tr.real, b)) for s, tr in enumerate(trs)
                ] if self.hooks & {"g_terms", "after_step"} else []
        if "g_terms" in self.hooks:
            terms.update(_stack_terms(
                self._per_seed(lambda s, tr: tr.stack.g_terms(ctxs[s])), self.device))
        self.opt_g.zero_grad(set_to_none=True)
        # Only G's gradients: D's would be discarded (the lone run zeroes them before use).
        _total(terms).backward(inputs=self.g.parameters())
        self.opt_g.step()
        if "after_step" in self.hooks:
            self._per_seed(lambda s, tr: tr.stack.after_step(ctxs[s]))
        return terms

    def seed_state(self, pos: int) -> dict[str, Any]:
        """`Trainer.state_dict()` of the seed at `pos` (a position in `trainers`) as its lone
        run's Trainer would return it now: its nets' and Adams' slices of the stacked ones,
        its trick states, run generator, global RNG state and D-step count. All copies: the
        stacked training going on does not change them."""
        tr, rng = self.trainers[pos], self.rngs[pos]
        global_rng = {"cpu": rng.cpu}
        if rng.cuda is not None:
            global_rng["cuda"] = rng.cuda
        opts = (seed_optimiser_state(self.opt_g, pos), seed_optimiser_state(self.opt_d, pos))
        # The seed's modules are bound to its slices: their state_dicts hold views of them.
        return copied(tr.state_dict(optimisers=opts, global_rng=global_rng))

    def drop(self, positions: list[int]) -> None:
        """Stop training the seeds at `positions` (their modules become plain copies)."""
        keep = [p for p in range(len(self.trainers)) if p not in positions]
        if not keep:
            self.finish()
            self.g.nets, self.d.nets, self.trainers, self.rngs, self.index = [], [], [], [], []
            return
        old_g, old_d = self.g.parameters(), self.d.parameters()
        self.g.select(keep)
        self.d.select(keep)
        self.opt_g = select_optimiser(self.opt_g, old_g, self.g.parameters(), keep)
        self.opt_d = select_optimiser(self.opt_d, old_d, self.d.parameters(), keep)
        self.trainers = [self.trainers[p] for p in keep]
        self.rngs = [self.rngs[p] for p in keep]
        self.index = [self.index[p] for p in keep]

    def finish(self) -> None:
        """Unbind every seed's modules from the stacked tensors."""
        for net in (*self.g.nets, *self.d.nets):
            release(net)


def train_vectorised(cfgs: list[RunConfig], trackers: list[Tracker | None] | None = None,
                     progress: SeedProgress | None = None,
                     checkpoints: list[Checkpointer | None] | None = None) -> list[RunResult]:
    """Train one cell's seeds stacked; result i (and what trackers[i] receives) is what
    `train(cfgs[i], trackers[i])` gives alone, up to float rounding. A seed whose losses
    turn non-finite ends as diverged at its own step and term; the others go on.

    `progress(i, p)` reports seed i's windows (after every seed's checkpoints of that
    window are saved). `RunResult.seconds` is the wall time from the start of the shared run
    to that seed's end.

    `checkpoints[i]`: seed i saves where `train(cfgs[i], checkpoints=checkpoints[i])` would
    (a window end `every` or more steps after its last save; not once it has diverged) the
    checkpoint that lone run would save, up to float rounding: after a crash, seed i
    resumes alone with `train(cfgs[i], checkpoints=checkpoints[i])`. They are only saved
    to: a state they already hold is neither loaded nor checked, and the stack starts at
    step 0 and replaces it at its first save (train a run that has one alone)."""
    t0 = time.perf_counter()
    check_cell(cfgs)
    trackers = list(trackers) if trackers is not None else [None] * len(cfgs)
    if len(trackers) != len(cfgs):
        raise ValueError(f"{len(trackers)} trackers for {len(cfgs)} configs")
    checkpoints = list(checkpoints) if checkpoints is not None else [None] * len(cfgs)
    if len(checkpoints) != len(cfgs):
        raise ValueError(f"{len(checkpoints)} checkpointers for {len(cfgs)} configs")
    reason = can_vectorise(cfgs[0])
    if reason:
        raise ValueError(f"cannot train these seeds vectorised: {reason}")
    vt = VectorisedTrainer(cfgs)
    cfg = vt.cfg
    runs = [RunLog(tr, tk, t0) for tr, tk in zip(vt.trainers, trackers, strict=True)]
    for run in runs:
        run.start({"vectorised_seeds": str(len(cfgs))})
    window = LossWindow(0)
    step = 0
    last_save = [0] * len(cfgs)
    while step < cfg.steps and vt.trainers:
        window.add(vt.step(step))  # each term (S,)
        step += 1
        log_now, eval_now = window_end(step, cfg)
        if not log_now:
            continue
        values = window.fetch(step)  # (W, T, S): one host sync for every seed
        gone, reports = [], []
        for pos, i in enumerate(vt.index):
            p = runs[i].end_window(values[:, :, pos].contiguous(), window, step, eval_now)
            if p is None:
                gone.append(pos)
                continue
            # As train(): saved after the evaluation (it updates G's batch-norm statistics).
            ckpt = checkpoints[i]
            if ckpt and ckpt.every > 0 and step - last_save[i] >= ckpt.every:
                ckpt.save(runs[i].checkpoint(step, vt.seed_state(pos)), step)
                last_save[i] = step
            reports.append((i, p))
        if gone:
            vt.drop(gone)  # a diverged seed keeps its nets as they are now, as train() does
        if progress:
            for i, p in reports:
                progress(i, p)
        window.restart(step)
    vt.finish()
    return [run.result(step) for run in runs]
