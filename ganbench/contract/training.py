"""The contract's checks that train: 2 steps alone and beside each canon trick, the trick's
state through a checkpoint, bit-identical resume, and stacked seeds equal to lone runs."""

from __future__ import annotations

import math
from typing import Any

from ganbench.config import ConfigError, RunConfig
from ganbench.contract.compare import differing_keys, first_difference, same_state
from ganbench.contract.contexts import Context, canon, first_setting, run_config, settings
from ganbench.contract.result import Failed, Skip, check, require
from ganbench.specs.run import schedulable, validate
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, Trainer, train
from ganbench.train.checkpoint import dumps, loads

# Resume: saves at steps 2 and 4 (log every step, evaluate at 3 and 6); the crash at 5 loses
# step 5, so the resumed run must redo it exactly.
STEPS, EVERY, CRASH_AT = 6, 2, 5


class MemoryCheckpointer:
    """A checkpoint kept as the bytes a file would hold (checksum, torch.save), read back with
    weights_only=True as every checkpoint is."""

    def __init__(self, every: int) -> None:
        self.every, self.corrupt = every, []
        self.data: bytes | None = None
        self.saved_at: list[int] = []

    def load(self) -> dict[str, Any] | None:
        return None if self.data is None else loads(self.data, "checkpoint")

    def save(self, state: dict[str, Any], step: int) -> None:
        self.data = dumps(state)
        self.saved_at.append(step)


class _Crash(Exception):
    """Stands for the process dying: the steps after the last checkpoint are lost."""


def _finished(cfg: RunConfig) -> MemoryTracker:
    """Train `cfg`; fail unless it finished every step with finite, well-named losses."""
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    require(result.status == "finished", f"diverged at step {result.diverged_step} "
            f"(term {result.diverged_term})")
    require(result.steps_done == cfg.steps and tracker.tags.get("status") == "finished",
            f"stopped after {result.steps_done} of {cfg.steps} steps")
    logged = [(s, k, v) for s, k, v in tracker.metrics if k.startswith("train/")]
    names = {k for _, k, _ in logged}
    require(names >= {"train/d/adv", "train/g/adv"}, f"the adversarial losses were not "
            f"logged (logged: {sorted(names)})")
    odd = sorted(k for k in names if not k.startswith(("train/d/", "train/g/")))
    require(not odd, f"loss terms logged outside train/d/ and train/g/: {odd}")
    steps = sorted({s for s, _, _ in logged})
    require(steps == list(range(1, cfg.steps + 1)), f"losses logged at steps {steps}")
    bad = sorted({k for _, k, v in logged if not math.isfinite(v)})
    require(not bad, f"non-finite loss terms: {bad}")
    return tracker


@check(lambda name, ctx, loss: f"trains alone on {ctx.label}/{loss}")
def trains_alone(name: str, ctx: Context, loss: str) -> str | None:
    _finished(run_config(ctx, loss, {name: {}}))
    return "2 steps, finite losses"


def alone_settings(name: str) -> list[tuple[Context, str]]:
    """Every contract context (with its first valid loss) where `name` validates alone."""
    return settings({name: {}})


def partners(name: str) -> list[str]:
    """The canon tricks `name` can train beside somewhere (pairs the planner would keep)."""
    return [n for n in canon() if n != name and first_setting({name: {}, n: {}})]


@check(lambda name, partner: f"trains beside {partner}")
def trains_beside(name: str, partner: str) -> str | None:
    found = first_setting({name: {}, partner: {}})
    if found is None:
        raise Skip(f"{name} and {partner} conflict in every context (the planner drops them)")
    ctx, loss = found
    _finished(run_config(ctx, loss, {name: {}, partner: {}}))
    return f"on {ctx.label}/{loss}"


def resume_config(name: str) -> RunConfig:
    found = first_setting({name: {}})
    require(found, f"{name} validates in no contract context")
    ctx, loss = found
    return run_config(ctx, loss, {name: {}}, steps=STEPS, eval_every=3,
                      batch_size=ctx.small_batch)


def _crash(p: Progress) -> None:
    if p.step == CRASH_AT:
        raise _Crash


def _crashed_run(cfg: RunConfig) -> MemoryCheckpointer:
    ckpt = MemoryCheckpointer(EVERY)
    try:
        train(cfg, tracker=MemoryTracker(), progress=_crash, checkpoints=ckpt)
    except _Crash:
        pass
    else:
        raise Failed(f"the run did not reach step {CRASH_AT}")
    return ckpt


@check("state round-trips through a checkpoint")
def state_round_trip(name: str) -> str | None:
    cfg = resume_config(name)
    ckpt = _crashed_run(cfg)
    require(ckpt.saved_at == [2, 4], f"checkpoints saved at steps {ckpt.saved_at}, not [2, 4]")
    try:
        state = ckpt.load()
    except Exception as e:
        raise Failed(f"a checkpoint holding its state_dict() does not load with "
                     f"torch.load(weights_only=True) ({type(e).__name__}: {e}); keep state to "
                     "tensors, numbers, strings, lists and dicts") from None
    saved = state["tricks"].get(name, {})
    fresh = Trainer(cfg)
    fresh.load_state_dict(state)
    again = fresh.stack.state_dict().get(name, {})
    diff = differing_keys(saved, again)
    require(not diff, f"state_dict() after load_state_dict(state) differs from state at "
                      f"{', '.join(diff[:5])}")
    return f"{len(saved)} state entr{'y' if len(saved) == 1 else 'ies'}"


@check("checkpoint resume is bit-identical")
def resume_exact(name: str) -> str | None:
    cfg = resume_config(name)
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    ckpt = _crashed_run(cfg)
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=ckpt)
    require(resumed.resumed_from == 4, f"resumed from step {resumed.resumed_from}, not 4")
    require((resumed.status, resumed.steps_done) == (reference.status, reference.steps_done),
            f"resumed run {resumed.status} after {resumed.steps_done} steps, the uninterrupted "
            f"one {reference.status} after {reference.steps_done}")
    for net, got, want in (("G", resumed.g, reference.g), ("D", resumed.d, reference.d)):
        diff = same_state(got.state_dict(), want.state_dict())
        require(not diff, f"{net} after resuming differs from the uninterrupted run's in "
                          f"{', '.join(diff[:5])} (state kept outside Trick.state_dict, or "
                          "not restored by its load_state_dict?)")
    where = first_difference(_history(reference.metrics), _history(resumed.metrics))
    require(where is None, f"final metrics differ: {where}")
    where = first_difference(_history(ref_tracker.metrics), _history(tracker.metrics))
    require(where is None, f"logged history differs: {where}")
    return None


def _history(x: Any) -> Any:
    """Without wall-clock entries (perf/...), which differ between any two runs."""
    if isinstance(x, dict):
        return {k: v for k, v in x.items() if not k.startswith("perf/")}
    return [m for m in x if not m[1].startswith("perf/")]



def _moved(name: str, param: str, cfg: RunConfig) -> list[RunConfig]:
    """`cfg` with trick `name`'s `param` at other valid values, nearest first."""
    a = cfg.tricks[name][param]
    out = []
    for b in dict.fromkeys((a * 0.5, a + 0.1, 0.5, a * 1e3)):
        if b == a:
            continue
        try:
            out.append(validate(cfg.model_copy(update={"tricks": {
                **cfg.tricks, name: {**cfg.tricks[name], param: b}}})))
        except ConfigError:
            continue
    return out


def _trained_state(cfg: RunConfig, set_to: tuple[str, str, float] | None = None) -> dict:
    tr = Trainer(cfg)
    for step in range(cfg.steps):
        if set_to:  # as a schedule sets it: before each step
            tr.stack.set_param(*set_to)
        tr.step(step)
    return {"g": tr.g.state_dict(), "d": tr.d.state_dict(),
            "eval_g": tr.eval_g.state_dict(), "tricks": tr.stack.state_dict()}


@check("scheduled parameters act from the step they are set")
def schedulable_params(name: str) -> str | None:
    """A float parameter not in the trick's `fixed_params` may be scheduled: set before
    every step (TrickStack.set_param) it must train exactly what a run built with that value
    trains; a trick that reads it only at build must list it in `fixed_params`. Checked at
    the nearest other value that changes what 3 steps train (a parameter with no visible
    effect there is named as unchecked)."""
    params = schedulable(name)
    if not params:
        raise Skip("no float parameter a schedule could move")
    cfg = resume_config(name).model_copy(update={"steps": 3})
    start = _trained_state(cfg)
    done, unseen = [], []
    for param in params:
        for moved in _moved(name, param, cfg):
            built = _trained_state(moved)
            if not differing_keys(built, start):
                continue  # no effect in these steps: it could not tell
            value = moved.tricks[name][param]
            diff = differing_keys(built, _trained_state(cfg, (name, param, value)))
            require(not diff, f"{param} set to {value:g} before each step trains something "
                    f"else than a run built with {param} {value:g} (differs in "
                    f"{', '.join(diff[:3])}): it is read only when the run is built; list it "
                    f"in {name}.fixed_params")
            done.append(param)
            break
        else:
            unseen.append(param)
    if not done:
        raise Skip(f"{', '.join(unseen)}: no other value changes what {cfg.steps} steps train")
    return (f"{', '.join(done)} over {cfg.steps} steps"
            + (f"; {', '.join(unseen)} unchecked (no effect in {cfg.steps} steps)"
               if unseen else ""))
