"""The one training step, for a lone run and for S seeds stacked: n_d D steps, then a G
step, every trick reached only through its TrickStack's hooks, in the order written here.

The step runs over `Seeds`: a lone run (`OneSeed`: S = 1, tensors without a seed
dimension, nets called directly) or a stack (train/vectorised.py: tensors (S, B, ...), nets
vmapped). Both give each hook one seed's slices and that seed's own modules, so a hook
never sees a seed dimension; hooks no trick of the run overrides are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ganbench.models.conditional import bind_labels
from ganbench.tricks.base import StepContext

if TYPE_CHECKING:
    from ganbench.config import RunConfig
    from ganbench.train.seed import SeedRun

T = TypeVar("T")
Terms = dict[str, torch.Tensor]


class Seeds:
    """The seeds one step trains; subclasses provide the nets, optimisers, losses and how
    tensors split into seeds and join again. `seeds`: the runs still training (one SeedRun
    each, all of one config but the seed); `index`: their positions among the first ones."""

    seeds: list[SeedRun]
    index: list[int]
    g: Callable[[torch.Tensor], torch.Tensor]
    d: Callable[[torch.Tensor], torch.Tensor]
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    d_loss: Callable[..., torch.Tensor]
    g_loss: Callable[..., torch.Tensor]

    def real(self) -> torch.Tensor:
        """A real batch of every seed, from its own generator."""
        raise NotImplementedError

    def real_labelled(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A real batch and its labels (None: an unconditional run)."""
        return self.real(), None

    def fake_labels(self) -> torch.Tensor | None:
        """Labels for a G step's fakes (None: an unconditional run)."""
        return None

    def bound(self, y: torch.Tensor | None) -> AbstractContextManager[None]:
        """Labels `y` bound to every seed's G and D for a block (conditional runs)."""
        if y is None:
            return nullcontext()
        return bind_labels([net for s in self.seeds for net in (s.g, s.d)], y)

    def z(self) -> torch.Tensor:
        raise NotImplementedError

    def targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        """D's targets before any trick's (ones for reals, zeros for fakes)."""
        raise NotImplementedError

    def part(self, x: torch.Tensor, s: int) -> torch.Tensor:
        """Seed `s`'s slice of `x`."""
        raise NotImplementedError

    def join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """The inverse of `part`."""
        raise NotImplementedError

    def join_terms(self, parts: list[Terms]) -> Terms:
        raise NotImplementedError

    def each(self, fn: Callable[[int, SeedRun], T]) -> list[T]:
        """[fn(s, seed s)] for every seed, each under that seed's own global RNG stream."""
        raise NotImplementedError

    def backward(self, terms: Terms, net: Any) -> None:
        """Backpropagate every seed's summed terms into `net`'s parameters (those of the net
        the optimiser about to step trains; other nets' gradients are never read)."""
        raise NotImplementedError

    def by_seed(self, values: torch.Tensor) -> torch.Tensor:
        """A window's terms (W, T[, S]) as (W, T, S)."""
        raise NotImplementedError

    def seed_state(self, pos: int) -> dict[str, Any]:
        """The checkpoint state of the seed at `pos` as its lone run would write it now."""
        raise NotImplementedError

    def drop(self, positions: list[int]) -> None:
        """Stop training the seeds at `positions`."""
        raise NotImplementedError

    def finish(self) -> None:
        """Training is over: every seed's nets are plain modules of their own."""

    @property
    def cfg(self) -> RunConfig:
        return self.seeds[0].cfg

    @property
    def g_uses_real(self) -> bool:
        """Whether the loss scores G's fakes against D on reals (`Loss.g_uses_real`)."""
        return self.seeds[0].loss.g_uses_real

    def uses(self, hook: str) -> bool:
        """Whether some trick overrides `hook` (the seeds share their tricks); a hook none
        overrides is skipped, which changes nothing."""
        return self.seeds[0].stack.overrides(hook)


class OneSeed(Seeds):
    """A lone run: one SeedRun and its own optimisers (a Trainer's)."""

    def __init__(self, seed: SeedRun, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer) -> None:
        self.seeds, self.index = [seed], [0]
        self.g, self.d, self.opt_g, self.opt_d = seed.g, seed.d, opt_g, opt_d
        self.d_loss, self.g_loss = seed.loss.d_loss, seed.loss.g_loss
        self._b = seed.cfg.batch_size

    def real(self) -> torch.Tensor:
        return self.seeds[0].real(self._b)

    def real_labelled(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.seeds[0].real_labelled(self._b)

    def fake_labels(self) -> torch.Tensor | None:
        return self.seeds[0].fake_labels(self._b)

    def z(self) -> torch.Tensor:
        return self.seeds[0].z(self._b)

    def targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.seeds[0].ones, self.seeds[0].zeros

    def part(self, x: torch.Tensor, s: int) -> torch.Tensor:
        return x

    def join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return parts[0]

    def join_terms(self, parts: list[Terms]) -> Terms:
        return parts[0]

    def each(self, fn: Callable[[int, SeedRun], T]) -> list[T]:
        return [fn(0, self.seeds[0])]  # the global RNG is this run's own

    def backward(self, terms: Terms, net: Any) -> None:
        sum(terms.values()).backward()

    def by_seed(self, values: torch.Tensor) -> torch.Tensor:
        return values.unsqueeze(-1)

    def seed_state(self, pos: int) -> dict[str, Any]:
        seed = self.seeds[0]
        return seed.state_dict((self.opt_g.state_dict(), self.opt_d.state_dict()))

    def drop(self, positions: list[int]) -> None:
        self.index = []  # its nets stay as they are


def d_step(run: Seeds, step: int) -> Terms:
    """One D step of every seed; terms {name: loss} (per seed: (S,) when stacked). In a
    conditional run the real batch's labels are bound to G and D for the whole step: the
    fakes are generated for them and every D call (tricks' too) sees them."""
    for seed in run.seeds:
        seed.d_steps_done += 1
    real, y = run.real_labelled()
    with run.bound(y):
        return _d_step(run, step, real)


def _d_step(run: Seeds, step: int, real: torch.Tensor) -> Terms:
    with torch.no_grad():
        fake = run.g(run.z())
    if run.uses("d_inputs"):
        out = run.each(lambda s, seed: seed.stack.d_inputs(run.part(real, s),
                                                           run.part(fake, s), step))
        real, fake = run.join([o[0] for o in out]), run.join([o[1] for o in out])
    d_real, d_fake = run.d(real), run.d(fake)
    real_t, fake_t = run.targets()
    if run.uses("d_targets"):
        out = run.each(lambda s, seed: seed.stack.d_targets(seed.ones, seed.zeros))
        real_t, fake_t = run.join([o[0] for o in out]), run.join([o[1] for o in out])
    terms = {"adv": run.d_loss(d_real, d_fake, real_t, fake_t)}
    if run.uses("d_terms"):
        terms.update(run.join_terms(run.each(lambda s, seed: seed.stack.d_terms(StepContext(
            seed.g, seed.d, run.part(real, s), run.part(fake, s), run.part(d_real, s),
            run.part(d_fake, s), step, features=seed.features)))))
    run.opt_d.zero_grad(set_to_none=True)
    run.backward(terms, run.d)
    run.opt_d.step()
    return terms


def g_step(run: Seeds, step: int) -> Terms:
    """One G step of every seed (then the tricks' `after_step`); in a conditional run with
    uniform labels drawn first and bound to G and D for the step. A loss that pairs fakes
    with reals (`Loss.g_uses_real`) gets a fresh real batch, drawn as a D step draws one
    (R3GAN draws one per G step); its labels are then the ones bound, so pairs share a class."""
    if run.g_uses_real:
        real, y = run.real_labelled()
        with run.bound(y):
            return _g_step(run, step, real)
    with run.bound(run.fake_labels()):
        return _g_step(run, step, None)


def _g_step(run: Seeds, step: int, real: torch.Tensor | None) -> Terms:
    fake = run.g(run.z())
    if run.uses("d_inputs"):
        # Reals (when drawn) take the path D's input takes in a D step: same hooks, one call.
        out = run.each(lambda s, seed: seed.stack.d_inputs(
            None if real is None else run.part(real, s), run.part(fake, s), step))
        fake = run.join([o[1] for o in out])
        real = None if real is None else run.join([o[0] for o in out])
    d_fake = run.d(fake)
    if real is None:
        terms = {"adv": run.g_loss(d_fake)}
    else:
        # A constant for G, as in R3GAN (D is frozen in its G phase): no graph to build.
        with torch.no_grad():
            d_real = run.d(real)
        terms = {"adv": run.g_loss(d_fake, d_real)}
    ctxs = [StepContext(seed.g, seed.d, None, run.part(fake, s), None, run.part(d_fake, s),
                        step, sample_real=partial(seed.real, seed.cfg.batch_size),
                        features=seed.features)
            for s, seed in enumerate(run.seeds)
            ] if run.uses("g_terms") or run.uses("after_step") else []
    if run.uses("g_terms"):
        terms.update(run.join_terms(run.each(lambda s, seed: seed.stack.g_terms(ctxs[s]))))
    run.opt_g.zero_grad(set_to_none=True)
    run.backward(terms, run.g)
    run.opt_g.step()
    if run.uses("after_step"):
        run.each(lambda s, seed: seed.stack.after_step(ctxs[s]))
    return terms


def train_step(run: Seeds, step: int) -> Terms:
    """One iteration; returns {'d/<term>': t, 'g/<term>': t} (D terms of the last D step).
    Scheduled rates and trick parameters are set to this step's values first."""
    schedules = run.seeds[0].schedules
    if schedules:
        schedules.apply(step, run.seeds[0].optim, run.opt_g, run.opt_d,
                        [s.stack for s in run.seeds])
    for _ in range(run.seeds[0].n_d):
        d_terms = d_step(run, step)
    g_terms = g_step(run, step)
    out = {f"d/{k}": v.detach() for k, v in d_terms.items()}
    out.update({f"g/{k}": v.detach() for k, v in g_terms.items()})
    return out
