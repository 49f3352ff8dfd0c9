"""EMA of G's weights (Yazici et al. 2019): the average, its warm-up, and its time
constant long against a short run (issue 12, item 9)."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import cfg, horizon_caveats, run_cfg

from ganbench.specs.run import trick_conditions
from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train
from ganbench.tricks.base import HORIZON_FRACTION


@pytest.mark.parametrize("warmup,step,expected", [(False, 0, 0.9), (True, 0, 0.1),
                                                  (True, 20, 0.7), (True, 500, 0.9)])
def test_ema_weights_lag_raw_weights_by_the_decay(tmp_path, warmup, step, expected):
    # With the warm-up the decay is min(decay, (1 + t) / (10 + t)): 0.1 at t=0, 0.7 at t=20.
    tr = Trainer(cfg(tmp_path, tricks={"ema": {"decay": 0.9, "warmup": warmup}}))
    ema = next(t for t in tr.stack.tricks if t.name == "ema")
    assert ema.decay_at(step) == pytest.approx(expected)
    before = [p.detach().clone() for p in ema.g_ema.parameters()]
    tr.step(step)
    for b, p_ema, p in zip(before, ema.g_ema.parameters(), tr.g.parameters(), strict=True):
        assert torch.allclose(p_ema, expected * b + (1 - expected) * p.detach(), atol=1e-6)
    assert tr.eval_g is ema.g_ema and tr.eval_g is not tr.g
    tracker = MemoryTracker()
    result = train(cfg(tmp_path, tricks={"ema": {}}), tracker)
    assert tracker.tags["eval_generator"] == "ema" and result.g is not None


def test_ema_start_copies_weights_until_start(tmp_path):
    tr = Trainer(cfg(tmp_path, tricks={"ema": {"decay": 0.9, "start": 5}}))
    ema = next(t for t in tr.stack.tricks if t.name == "ema")
    tr.step(0)
    for p_ema, p in zip(ema.g_ema.parameters(), tr.g.parameters(), strict=True):
        assert torch.equal(p_ema, p.detach())


def test_ema_at_its_paper_decay_is_flagged_on_a_short_run_only():
    short = horizon_caveats(run_cfg(steps=500, tricks={"ema": {}}))
    assert len(short) == 1
    assert short[0].startswith("ema: decay 0.999 averages over ~1000 steps, 2× this run's "
                               "500 steps"), short
    assert horizon_caveats(run_cfg(steps=50_000, tricks={"ema": {}})) == []
    # the rule is the stated fraction of the run: 1000 steps of horizon against 4000 is fine
    assert horizon_caveats(run_cfg(steps=int(1000 / HORIZON_FRACTION), tricks={"ema": {}})) == []
    assert horizon_caveats(run_cfg(steps=500, tricks={"ema": {"decay": 0.99}})) == []


def test_ema_start_counts_towards_its_horizon():
    found = horizon_caveats(run_cfg(steps=1000, tricks={"ema": {"decay": 0.99, "start": 500}}))
    assert found and "from step 500" in found[0]


def test_the_caveat_is_recorded_on_the_run_and_listed_by_tricks_show(tmp_path):
    tracker = MemoryTracker()
    result = train(run_cfg(tmp_path, steps=4, log_every=2, tricks={"ema": {}}), tracker)
    assert [f.trick for f in result.caveats] == ["ema"]
    assert "ema: decay 0.999 averages over ~1000 steps" in tracker.tags["caveats"]
    conds = {cond: str(f) for cond, f in trick_conditions("ema")}
    assert "steps=1000" in conds and "always" not in conds


@pytest.mark.slow
def test_ema_warmup_leaves_few_initial_weights_after_500_steps(tmp_path):
    """With decay 0.999, the paper's plain average keeps 0.999^500 = 61% of the initial
    weights after 500 steps; the warm-up (the default) keeps under 5%.

    Measured through linearity: the average never feeds back into training, so two runs of
    one seed whose averages start 1 apart end (fraction of initial weights left) apart."""
    torch.set_num_threads(1)

    def ema_after(warmup: bool, offset: float) -> torch.Tensor:
        tr = Trainer(run_cfg(tmp_path, steps=500, tricks={"ema": {"warmup": warmup}}))
        ema = next(t for t in tr.stack.tricks if t.name == "ema")
        with torch.no_grad():
            for p in ema.g_ema.parameters():
                p.add_(offset)
        for step in range(500):
            tr.step(step)
        return torch.cat([p.flatten() for p in ema.g_ema.parameters()])

    def initial_fraction(warmup: bool) -> float:
        return (ema_after(warmup, 1.0) - ema_after(warmup, 0.0)).mean().item()

    assert initial_fraction(False) == pytest.approx(0.999 ** 500, rel=1e-3)  # 0.61
    assert initial_fraction(True) < 0.05
