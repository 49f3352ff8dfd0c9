"""The trick contract and the stack the training loop talks to.

A trick is a class with typed `Params` (paper defaults) and hooks that do nothing by default.
The loop calls each hook on the `TrickStack` and never names a trick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, field_validator

from ganbench import limits
from ganbench.models.base import Features, body_features
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import RunConfig


class TrickParams(BaseModel):
    # Every parameter finite and of a size that can run (limits.py), plugins' tricks too.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    _sane = field_validator("*")(classmethod(lambda cls, v: limits.sane(v)))


@dataclass(frozen=True)
class Finding:
    """A conflict makes a configuration invalid; a caveat only flags it (and is tagged)."""

    kind: Literal["conflict", "caveat"]
    trick: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        tail = f" (suggestion: {self.suggestion})" if self.suggestion else ""
        return f"{self.trick}: {self.message}{tail}"


@dataclass(frozen=True)
class OptimSpec:
    g_lr: float
    d_lr: float
    g_betas: tuple[float, float]
    d_betas: tuple[float, float]
    kind: str = "adam"  # "adam" (betas), or "sgd" (plain gradient descent; momentum)
    momentum: float = 0.0  # sgd only


@dataclass
class StepContext:
    """What a loss-term hook sees. real/fake are D's inputs (after d_inputs); logits are (B,)."""

    g: torch.nn.Module  # the generator (one seed's, in a stacked run)
    d: torch.nn.Module  # the discriminator; ctx.d(x) -> (B,) logits
    real: torch.Tensor | None  # D's real input of this D step; None in the G step
    fake: torch.Tensor  # D's fake input: G(z) after d_inputs
    d_real: torch.Tensor | None  # D's logits on `real`; None in the G step
    d_fake: torch.Tensor  # D's logits on `fake`
    step: int  # the training iteration (one G step and its D steps)
    # A fresh real batch on demand (the G step draws none unless a trick asks), clean.
    sample_real: Callable[[], torch.Tensor] | None = None
    # D's input transforms of this step (instance noise, DiffAugment) for a real batch: the
    # ones `real`/`fake` went through. Set by the TrickStack; identity outside a stack.
    d_input: Callable[[torch.Tensor], torch.Tensor] = lambda x: x
    # How this run's model exposes D's features (its ModelSpec's `features`; set by the
    # loop). None: the model declares none (feature matching refuses it at config load).
    features: Features | None = body_features

    def d_features(self, x: torch.Tensor) -> torch.Tensor:
        """D's intermediate features of x, as the run's model spec declares them."""
        if self.features is None:
            raise ValueError("this run's model declares no D features (ModelSpec.features)")
        return self.features(self.d, x)


# A trick whose time constant exceeds this fraction of the run's steps gets a caveat.
HORIZON_FRACTION = 0.25


@dataclass(frozen=True)
class TimeConstant:
    """How many training steps (G steps) a trick needs to act as its paper intends."""

    steps: float
    what: str  # e.g. "decay 0.999 averages over ~1000 steps"
    suggestion: str | None = None


class Trick:
    """A training trick: override the hooks it needs; the rest change nothing.

    Call order (ganbench/train/seed.py and step.py; tests/tricks/test_call_order.py holds
    the code to these lines):

    - config check: `check` (its `findings` read `time_constant`); a sweep's run keys
      read `identity_params`.
    - build, once per run: `model_options`, `build`, `optimizers`, `d_steps`; a resumed
      run then gets `load_state_dict`, and seed-stacked runs read `stacked_template`.
    - each training step: `d_steps()` D steps of `d_inputs`, `d_targets`, `d_terms`; then
      one G step of `d_inputs`, `g_terms`, `after_step`.
    - each evaluation (and the samples): `eval_generator`; each checkpoint: `state_dict`.

    Within a stack, tricks are called in `order`, ties by name. Before each step, a
    scheduled parameter (`schedules:`) is set in `params` to that step's value; read
    parameters where they act, or list those read at build in `fixed_params`."""

    name: ClassVar[str] = ""
    short: ClassVar[str] = ""  # for readable cell labels ("sn+gp10"); defaults to the name
    paper: ClassVar[str] = ""
    Params: ClassVar[type[TrickParams]] = TrickParams
    order: ClassVar[int] = 50  # hook order within a stack; ties broken by name
    # True when the trick keeps its per-run meaning on seed-stacked tensors (vectorised seeds,
    # ganbench/train/vectorised.py); the vectorised contract test holds every such trick to it.
    vectorisable: ClassVar[bool] = False
    # True when the trick works only in class-conditional runs (`conditional: true`); its
    # check() says so too, which is what configs and sweep plans go by.
    conditional_only: ClassVar[bool] = False
    # False for a setting that is not a training trick to be ablated (plain gradient descent
    # for the Dirac-GAN): the canon sweeps (benchmarks/*-canon.yaml) cover every other trick.
    canon: ClassVar[bool] = True
    # Float parameters read only while the run is built (an optimiser's momentum, an
    # initial value): a schedule (`schedules:`) could not move them, so it is refused. Every
    # other float parameter is read where it acts, so setting it before a step (`TrickStack
    # .set_param`) acts from that step on; the contract's `schedulable` check holds a trick
    # to that.
    fixed_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: TrickParams | None = None, cfg: RunConfig | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.cfg = cfg  # the run's config, for tricks whose schedule depends on it

    # --- read at config load -------------------------------------------------------
    def check(self, cfg: RunConfig) -> list[Finding]:
        """Conflicts (the config is refused; sweeps drop the cell) and caveats (flagged and
        tagged) of this trick in `cfg`; build them with `self.conflict` / `self.caveat`."""
        return []

    def time_constant(self, cfg: RunConfig) -> TimeConstant | None:
        """The trick's horizon in steps (EMA's 1/(1-decay), a lazy interval), or None.
        Read by `findings`, which flags runs shorter than a few horizons."""
        return None

    def findings(self, cfg: RunConfig) -> list[Finding]:
        """`check(cfg)` plus the generic caveat for a time constant long against the run."""
        out = list(self.check(cfg))
        tc = self.time_constant(cfg)
        if tc is not None and tc.steps > HORIZON_FRACTION * cfg.steps:
            out.append(self.caveat(
                f"{tc.what}, {tc.steps / cfg.steps:.2g}× this run's {cfg.steps} steps "
                f"(flagged above {HORIZON_FRACTION:g} of the run)", tc.suggestion))
        return out

    def identity_params(self) -> dict[str, Any]:
        """The parameters as they define the run (JSON values), for run keys and checkpoint
        checks: the typed params by default. A trick whose params are relative to a run
        setting gives the absolute values they resolve to, so runs that compute the same
        thing share a key whichever form their file used."""
        return self.params.model_dump(mode="json")

    # --- training hooks (each returns new values) -----------------------------------
    def model_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options passed to the model builder (e.g. minibatch_std=True)."""
        return options

    def build(self, g, d):
        """The (G, D) to train, after the model is built (spectral norm wraps D's layers)."""
        return g, d

    def optimizers(self, spec: OptimSpec) -> OptimSpec:
        """The optimisers' settings (TTUR's two learning rates); return a new OptimSpec."""
        return spec

    def d_targets(self, real_t, fake_t):
        """D's targets for real and fake logits, (B,) each (label smoothing, flips); new
        tensors, never the inputs changed in place."""
        return real_t, fake_t

    def d_inputs(self, real, fake, step: int):
        """Transform D's inputs; either may be None (the G step has no reals, and
        `StepContext.d_input` passes reals alone) and must then stay None."""
        return real, fake

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Named scalar terms added to D's loss (gradient penalty, R1), each logged as
        `train/d/<name>`."""
        return {}

    def g_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Named scalar terms added to G's loss (feature matching), each logged as
        `train/g/<name>`."""
        return {}

    def d_steps(self) -> int:
        """D steps per G step (n_critic); a stack takes the largest."""
        return 1

    def after_step(self, ctx: StepContext) -> None:
        """Called after each G step (EMA updates its average); returns nothing."""
        return None

    def eval_generator(self, g):
        """The generator that evaluation and samples use (EMA returns its average)."""
        return g

    # --- seed stacking (ganbench/train/stacked.py) ------------------------------------
    def stacked_template(self, net: torch.nn.Module) -> torch.nn.Module:
        """`net` (a structure-only copy on the meta device) as seed-stacked runs call it,
        through `vmap(functional_call(net, ...))`: a trick whose modules vmap cannot batch
        swaps in equivalents that it can, with the same parameter and buffer names."""
        return net

    # --- checkpoints ------------------------------------------------------------------
    # State that changes across steps and is not already inside G's or D's state_dict
    # (EMA's average, LeCam's anchors, counters). Plain tensors/containers/numbers only:
    # checkpoints are loaded with torch.load(weights_only=True).
    def state_dict(self) -> dict[str, Any]:
        """State that changes across steps and is not in G's or D's state_dict (EMA's
        average), as plain tensors, containers and numbers."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (a resumed run)."""
        return None

    # helpers for subclasses
    def conflict(self, message: str, suggestion: str | None = None) -> Finding:
        """A Finding that makes the configuration invalid."""
        return Finding("conflict", self.name, message, suggestion)

    def caveat(self, message: str, suggestion: str | None = None) -> Finding:
        """A Finding that only flags the configuration (printed and tagged)."""
        return Finding("caveat", self.name, message, suggestion)


def _short(cls: type[Trick], name: str) -> type[Trick]:
    cls.short = cls.__dict__.get("short") or name
    return cls


TRICKS: Registry[type[Trick]] = Registry("trick", base=Trick, classes=True, prepare=_short)


def register_trick(obj: Any = None, /) -> Any:
    """Register a Trick subclass and give it its name (and `short`, defaulting to the name):
    `@register_trick("name")`, `@register_trick` (the class's own `name`) or
    `register_trick(cls)`."""
    return TRICKS.register(obj)


register = register_trick  # the decorator every built-in trick uses


class TrickStack:
    """Calls each hook of every active trick in a fixed order."""

    def __init__(self, tricks: list[Trick]) -> None:
        self.tricks = sorted(tricks, key=lambda t: (t.order, t.name))
        self._overrides: dict[str, bool] = {}

    @classmethod
    def from_config(cls, cfg: RunConfig) -> TrickStack:
        out = []
        for name, params in cfg.tricks.items():
            trick_cls = TRICKS.get(name)
            out.append(trick_cls(trick_cls.Params.model_validate(params), cfg))
        return cls(out)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tricks]

    def trick(self, name: str) -> Trick:
        """The active trick `name` (KeyError if the stack has none)."""
        for t in self.tricks:
            if t.name == name:
                return t
        raise KeyError(name)

    def set_param(self, name: str, param: str, value: float) -> None:
        """Set trick `name`'s float parameter (a schedule's value of this step; checked when
        the config was)."""
        t = self.trick(name)
        t.params = t.params.model_copy(update={param: value})

    def check(self, cfg: RunConfig) -> list[Finding]:
        return [f for t in self.tricks for f in t.findings(cfg)]

    def identity(self) -> dict[str, dict[str, Any]]:
        """Each trick's `identity_params`, by trick name (sorted): the tricks of a run key."""
        return {t.name: t.identity_params() for t in sorted(self.tricks, key=lambda t: t.name)}

    def model_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for t in self.tricks:
            options = t.model_options(options)
        return options

    def build(self, g, d):
        for t in self.tricks:
            g, d = t.build(g, d)
        return g, d

    def optimizers(self, spec: OptimSpec) -> OptimSpec:
        for t in self.tricks:
            spec = t.optimizers(spec)
        return spec

    def d_targets(self, real_t, fake_t):
        for t in self.tricks:
            real_t, fake_t = t.d_targets(real_t, fake_t)
        return real_t, fake_t

    def d_inputs(self, real, fake, step: int):
        for t in self.tricks:
            real, fake = t.d_inputs(real, fake, step)
        return real, fake

    def real_input(self, real: torch.Tensor, step: int) -> torch.Tensor:
        """A real batch through D's input transforms of `step` (fresh random draws)."""
        for t in self.tricks:
            real, _ = t.d_inputs(real, None, step)
        return real

    def _with_d_input(self, ctx: StepContext) -> StepContext:
        return replace(ctx, d_input=lambda x: self.real_input(x, ctx.step))

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        ctx = self._with_d_input(ctx)
        return self._merge(t.d_terms(ctx) for t in self.tricks)

    def g_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        ctx = self._with_d_input(ctx)
        return self._merge(t.g_terms(ctx) for t in self.tricks)

    def d_steps(self) -> int:
        return max((t.d_steps() for t in self.tricks), default=1)

    def after_step(self, ctx: StepContext) -> None:
        for t in self.tricks:
            t.after_step(ctx)

    def eval_generator(self, g):
        for t in self.tricks:
            g = t.eval_generator(g)
        return g

    def eval_generator_name(self, g) -> str:
        """The name of the trick whose generator `eval_generator(g)` returns, or "raw"."""
        name = "raw"
        for t in self.tricks:
            g, before = t.eval_generator(g), g
            name = t.name if g is not before else name
        return name

    def stacked_template(self, net: torch.nn.Module) -> torch.nn.Module:
        for t in self.tricks:
            net = t.stacked_template(net)
        return net

    def overrides(self, hook: str) -> bool:
        """Whether some trick of the stack overrides `hook` (else calling it changes nothing)."""
        if hook not in self._overrides:
            self._overrides[hook] = any(getattr(type(t), hook) is not getattr(Trick, hook)
                                        for t in self.tricks)
        return self._overrides[hook]

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Each stateful trick's state, keyed by trick name (stateless tricks are left out)."""
        return {t.name: s for t in self.tricks if (s := t.state_dict())}

    def load_state_dict(self, state: dict[str, dict[str, Any]]) -> None:
        """Restore what `state_dict` returned (for the same tricks)."""
        unknown = set(state) - set(self.names)
        if unknown:
            raise ValueError(f"trick state for {sorted(unknown)}, which this run does not use "
                             f"(its tricks: {self.names})")
        for t in self.tricks:
            t.load_state_dict(state.get(t.name, {}))

    @staticmethod
    def _merge(parts) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for part in parts:
            for k, v in part.items():
                if k in out:
                    raise ValueError(f"two tricks produce a loss term named {k!r}")
                out[k] = v
        return out


__all__ = [
    "HORIZON_FRACTION", "TRICKS", "Finding", "OptimSpec", "StepContext", "TimeConstant",
    "Trick", "TrickParams", "TrickStack", "register", "register_trick",
]
