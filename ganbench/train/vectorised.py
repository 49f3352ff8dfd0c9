"""Vectorised seeds ("several runs for the price of one"): the S seeds of one sweep cell
trained as one seed-stacked model, each seed ending where `train(cfg)` alone would.

G and D run once for all seeds (`vmap` over `functional_call`, train/stacked.py) and one
optimiser steps the stacked parameters (Adam is element-wise: S independent Adams). The
step and the outer loop are the lone run's (train/step.py, train/windows.py); what makes a
seed's run equal to its lone run, up to float rounding:

- init: one `SeedRun` per seed, built as `train()` builds it (global seed, then nets/tricks),
  but on one shared dataset (the stacked optimisers train its nets);
- data and z: each seed draws from its own generator, in the lone run's order;
- the tricks' own draws use the global RNG: each seed's global RNG state is kept and
  swapped in around that seed's hook calls;
- the backpropagated total is the sum over seeds of each seed's loss (a mean over its own
  batch): every seed's slice of the stacked parameters gets exactly its own gradient;
- buffers (batch-norm statistics, a trick's) are per-seed slices of stacked ones; a trick
  whose modules vmap cannot batch as they are says how to run them
  (`Trick.stacked_template`).

Trick hooks run per seed, on that seed's slices and its own modules (bound to the stacked
tensors), and only the hooks some trick of the cell overrides. Terms that call a net again
therefore run seed by seed; the adversarial forward/backward passes and the optimiser steps
are shared.

Checkpoints: each seed can save, where its lone run would, the checkpoint its lone run would
save (`VectorisedTrainer.seed_state`: its slices of the stacked nets and Adam states, its
trick and RNG states), so a crashed stack's seeds each resume alone with `train()`. A stack
itself never resumes: the sweep's worker trains every retried run alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch.func import vmap

from ganbench.config import RunConfig
from ganbench.models import MODELS
from ganbench.registry import UnknownNameError
from ganbench.tracking import Tracker
from ganbench.train.checkpoint import Checkpointer
from ganbench.train.runlog import RunLog
from ganbench.train.seed import SeedRun
from ganbench.train.stacked import (
    SeedRng,
    StackedNet,
    copied,
    release,
    seed_optimiser_state,
    select_optimiser,
)
from ganbench.train.state import RunResult
from ganbench.train.step import Seeds, Terms
from ganbench.train.windows import SeedProgress, run_windows
from ganbench.tricks import TRICKS

__all__ = ["SeedProgress", "VectorisedTrainer", "can_vectorise", "check_cell",
           "stackable_models", "train_vectorised"]


def stackable_models() -> list[str]:
    """The registered models whose spec says they can be seed-stacked."""
    return MODELS.names(stackable=True)


def can_vectorise(cfg: RunConfig) -> str | None:
    """None when `cfg`'s seeds can be trained stacked, else the reason they cannot."""
    try:
        spec = MODELS.get(cfg.model)
    except UnknownNameError as e:
        return str(e)
    if not spec.stackable:
        return (f"model {cfg.model!r} is not supported by vectorised seeds (its spec is not "
                f"stackable; stackable: {', '.join(stackable_models()) or 'none'})")
    if cfg.conditional:
        # Labels are bound to each seed's modules; the stacked call runs a template copy.
        return "conditional runs are not supported by vectorised seeds (labels are bound " \
               "to each seed's own nets, which the stacked call does not run)"
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


def _stack_terms(per_seed: list[dict[str, torch.Tensor]], device: torch.device
                 ) -> dict[str, torch.Tensor]:
    """[{name: scalar}] per seed -> {name: (S,)} (a term may be a 0-dim CPU tensor, which the
    lone loop's sum accepts next to device tensors)."""
    names = list(per_seed[0])
    if any(list(t) != names for t in per_seed):
        raise RuntimeError(f"seeds produced different loss terms: {[list(t) for t in per_seed]}")
    return {k: torch.stack([t[k].to(device) for t in per_seed]) for k in names}


class VectorisedTrainer(Seeds):
    """S seeds of one cell as `Seeds` (train/step.py) of one stacked model: tensors
    (S, B, ...), nets vmapped; `index`: the positions in the configs of the seeds still
    training. The bookkeeping of each seed's run is train()'s `RunLog`."""

    def __init__(self, cfgs: list[RunConfig]) -> None:
        self.seeds: list[SeedRun] = []
        self.rngs: list[SeedRng] = []
        for cfg in cfgs:
            # Seeds the global RNG and builds what the lone run builds but its optimisers,
            # on the first seed's data (one copy).
            seed = SeedRun(cfg, self.seeds[0].data if self.seeds else None)
            self.seeds.append(seed)
            self.rngs.append(SeedRng(seed.device))  # taken before the next seed reseeds it
        first = self.seeds[0]
        self.device, self._b = first.device, first.cfg.batch_size
        self.index = list(range(len(cfgs)))
        self.g = StackedNet([s.g for s in self.seeds], first.stack.stacked_template)
        self.d = StackedNet([s.d for s in self.seeds], first.stack.stacked_template)
        self.opt_g = first.optimiser("g", self.g.parameters())
        self.opt_d = first.optimiser("d", self.d.parameters())
        self.d_loss, self.g_loss = vmap(first.loss.d_loss), vmap(first.loss.g_loss)

    def real(self) -> torch.Tensor:
        return torch.stack([s.real(self._b) for s in self.seeds])  # (S, B, ...)

    def z(self) -> torch.Tensor:
        return torch.stack([s.z(self._b) for s in self.seeds])

    def targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        n, first = len(self.seeds), self.seeds[0]
        return first.ones.expand(n, -1), first.zeros.expand(n, -1)

    def part(self, x: torch.Tensor, s: int) -> torch.Tensor:
        return x[s]

    def join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(parts)

    def join_terms(self, parts: list[Terms]) -> Terms:
        return _stack_terms(parts, self.device)

    def each(self, fn: Callable[[int, SeedRun], Any]) -> list:
        out = []
        for s, seed in enumerate(self.seeds):
            with self.rngs[s].active():
                out.append(fn(s, seed))
        return out

    def backward(self, terms: Terms, net: StackedNet) -> None:
        # Sum over seeds of each seed's summed terms: d total / d (seed s's loss) = 1. Only
        # `net`'s gradients: the other's would be discarded (the lone run zeroes them).
        sum(v.sum() for v in terms.values()).backward(inputs=net.parameters())

    def by_seed(self, values: torch.Tensor) -> torch.Tensor:
        return values

    def seed_state(self, pos: int) -> dict[str, Any]:
        """`Trainer.state_dict()` of the seed at `pos` (a position in `seeds`) as its lone
        run's Trainer would return it now: its nets' and Adams' slices of the stacked ones,
        its trick states, run generator, global RNG state and D-step count. All copies: the
        stacked training going on does not change them."""
        opts = (seed_optimiser_state(self.opt_g, pos), seed_optimiser_state(self.opt_d, pos))
        # The seed's modules are bound to its slices: their state_dicts hold views of them.
        return copied(self.seeds[pos].state_dict(opts, self.rngs[pos].states()))

    def drop(self, positions: list[int]) -> None:
        """Stop training the seeds at `positions` (their modules become plain copies)."""
        keep = [p for p in range(len(self.seeds)) if p not in positions]
        if not keep:
            self.finish()
            self.g.nets, self.d.nets, self.seeds, self.rngs, self.index = [], [], [], [], []
            return
        old_g, old_d = self.g.parameters(), self.d.parameters()
        self.g.select(keep)
        self.d.select(keep)
        self.opt_g = select_optimiser(self.opt_g, old_g, self.g.parameters(), keep)
        self.opt_d = select_optimiser(self.opt_d, old_d, self.d.parameters(), keep)
        self.seeds = [self.seeds[p] for p in keep]
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
    logs = [RunLog(seed.cfg, seed.data.kind, tk, t0)
            for seed, tk in zip(vt.seeds, trackers, strict=True)]
    for log, seed in zip(logs, vt.seeds, strict=True):
        log.start(seed.opening_tags(), {"vectorised_seeds": str(len(cfgs))})
    return run_windows(vt, logs, 0, checkpoints, progress)
