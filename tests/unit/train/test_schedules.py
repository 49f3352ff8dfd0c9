"""Schedules in training: the rate, Adam beta and trick parameter each step uses and logs,
TTUR's ratio under an lr schedule, and a bit-identical resume mid-schedule."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.contract.compare import first_difference, same_state
from ganbench.contract.training import MemoryCheckpointer
from ganbench.schedules import Schedule
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, Trainer, train

BASE = dict(dataset="ring8", model="mlp", batch_size=32, eval_samples=256, device="cpu")
LR = {"start": 1e-3, "end": 0.0}
GAMMA = {"start": 10.0, "end": 1.0, "shape": "cosine", "over": 4}
BETA2 = {"start": 0.9, "end": 0.99, "shape": "cosine", "over": 5}  # R3GAN's ramp, shortened


def expected(start: float, spec: dict, step: int, steps: int) -> float:
    return Schedule(**{k: v for k, v in spec.items() if k != "start"}).value(start, step, steps)


def test_each_step_uses_the_scheduled_rate_and_the_ttur_ratio_holds():
    cfg = validate(RunConfig(**BASE, steps=6, lr=LR, tricks={"ttur": {}}))
    tr = Trainer(cfg)
    for step in range(cfg.steps):
        tr.step(step)
        lr = expected(1e-3, LR, step, 6)  # 1e-3 * (1 - step / 6)
        # TTUR's default form: d = lr * 2, g = lr / 2 (ratio 4 around lr)
        assert tr.opt_d.param_groups[0]["lr"] == pytest.approx(2 * lr, rel=1e-12)
        assert tr.opt_g.param_groups[0]["lr"] == pytest.approx(lr / 2, rel=1e-12)
        assert tr.stack.trick("ttur").params.ratio == 4.0


def test_logged_values_equal_the_schedule_at_every_step():
    steps = 8
    cfg = validate(RunConfig(**BASE, steps=steps, log_every=1, lr=LR,
                             tricks={"r1": {"gamma": GAMMA}}))
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished"
    logged = {(s, k): v for s, k, v in tracker.metrics if k.startswith("schedule/")}
    for step in range(steps):  # logged at step + 1, after the step that used it
        assert logged[(step + 1, "schedule/lr")] == pytest.approx(
            1e-3 * (1 - step / steps), rel=1e-12)
        assert logged[(step + 1, "schedule/r1.gamma")] == pytest.approx(
            expected(10.0, GAMMA, step, steps), rel=1e-12)
    assert logged[(steps, "schedule/r1.gamma")] == 1.0  # reached after `over` steps, held


def test_each_step_uses_the_scheduled_beta2_in_both_optimisers():
    cfg = validate(RunConfig(**BASE, steps=7, betas=[0.0, BETA2], tricks={"ttur": {}}))
    tr = Trainer(cfg)
    for step in range(cfg.steps):
        tr.step(step)
        beta2 = expected(0.9, BETA2, step, 7)
        for opt in (tr.opt_d, tr.opt_g):
            (b1, b2), = (g["betas"] for g in opt.param_groups)
            assert b1 == 0.0 and b2 == pytest.approx(beta2, rel=1e-15)
    assert beta2 == 0.99  # held after `over` steps
    assert tr.opt_d.param_groups[0]["lr"] == 4e-4  # TTUR's rate of lr 2e-4, unmoved


def test_logged_betas_equal_the_schedule_at_every_step():
    steps = 6
    beta1 = {"start": 0.5, "end": 0.0}
    cfg = validate(RunConfig(**BASE, steps=steps, log_every=1, lr=1e-3,
                             betas=[beta1, BETA2]))
    tracker = MemoryTracker()
    assert train(cfg, tracker=tracker).status == "finished"
    logged = {(s, k): v for s, k, v in tracker.metrics if k.startswith("schedule/")}
    assert {k for _, k in logged} == {"schedule/beta1", "schedule/beta2"}
    for step in range(steps):  # logged at step + 1, after the step that used it
        assert logged[(step + 1, "schedule/beta1")] == pytest.approx(
            0.5 * (1 - step / steps), rel=1e-12)
        assert logged[(step + 1, "schedule/beta2")] == pytest.approx(
            expected(0.9, BETA2, step, steps), rel=1e-12)


def test_the_trick_reads_the_scheduled_value():
    cfg = validate(RunConfig(**BASE, steps=5, tricks={"r1": {"gamma": GAMMA}}))
    tr = Trainer(cfg)
    for step in range(cfg.steps):
        terms = tr.step(step)
        assert tr.stack.trick("r1").params.gamma == pytest.approx(
            expected(10.0, GAMMA, step, 5), rel=1e-12)
    # the penalty is gamma/2 * E||grad||^2: scheduled to 1, it is the same norm at gamma 1
    assert torch.isfinite(terms["d/r1"])


class _Crash(Exception):
    pass


def test_killed_and_resumed_mid_schedule_is_bit_identical():
    cfg = validate(RunConfig(**BASE, steps=8, log_every=1, eval_every=4, lr=LR,
                             betas=[0.0, BETA2], tricks={"r1": {"gamma": GAMMA}, "ttur": {}}))
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    ckpt = MemoryCheckpointer(every=3)

    def crash(p: Progress) -> None:
        if p.step == 5:
            raise _Crash

    with pytest.raises(_Crash):
        train(cfg, tracker=MemoryTracker(), progress=crash, checkpoints=ckpt)
    assert ckpt.saved_at == [3]
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=ckpt)
    assert resumed.resumed_from == 3
    assert not same_state(resumed.g.state_dict(), reference.g.state_dict())
    assert not same_state(resumed.d.state_dict(), reference.d.state_dict())
    keep = lambda ms: [m for m in ms if not m[1].startswith("perf/")]  # noqa: E731
    assert first_difference(keep(ref_tracker.metrics), keep(tracker.metrics)) is None
    # and the schedules really moved what was trained: a constant run ends elsewhere, and
    # so does one whose beta2 alone is constant
    constant = train(validate(RunConfig(**BASE, steps=8, lr=1e-3, betas=(0.0, 0.9),
                                        tricks={"r1": {"gamma": 10.0}, "ttur": {}})))
    assert same_state(constant.g.state_dict(), reference.g.state_dict())
    beta2_constant = train(validate(RunConfig(**BASE, steps=8, lr=LR, betas=(0.0, 0.9),
                                              tricks={"r1": {"gamma": GAMMA}, "ttur": {}})))
    assert same_state(beta2_constant.g.state_dict(), reference.g.state_dict())
