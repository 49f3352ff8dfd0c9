"""Time constants long against the run are flagged (issue 12, item 9), and EMA's warm-up
makes a short run's average mean something."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train
from ganbench.tricks import TRICKS, TrickStack
from ganbench.tricks.base import HORIZON_FRACTION, TimeConstant, Trick
from ganbench.validate import caveats, trick_conditions, validate


def run_cfg(tmp_path=None, **kw) -> RunConfig:
    base = dict(dataset="ring8", model="mlp", device="cpu", batch_size=32, log_every=50,
                eval_samples=256)
    if tmp_path is not None:
        base["data_root"] = tmp_path
    return validate(RunConfig(**{**base, **kw}))


def horizon_caveats(cfg: RunConfig) -> list[str]:
    return [str(f) for f in caveats(cfg) if "of the run" in f.message]


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


@pytest.mark.parametrize("name,params,short,long", [
    ("r1", {"interval": 16}, 40, 1000),
    ("r2", {"interval": 16}, 40, 1000),
    ("lecam", {}, 200, 1000),
])
def test_lazy_intervals_and_anchor_horizons_are_flagged_on_short_runs(name, params, short, long):
    assert [c.split(":")[0] for c in horizon_caveats(
        run_cfg(steps=short, tricks={name: params}))] == [name]
    assert horizon_caveats(run_cfg(steps=long, tricks={name: params})) == []


def test_an_eager_penalty_and_instance_noise_declare_no_time_constant():
    cfg = run_cfg(steps=10)
    assert TRICKS.get("r1")().time_constant(cfg) is None  # interval 1: every D step
    assert TRICKS.get("instance_noise")().time_constant(cfg) is None  # a fraction of the run


@pytest.mark.parametrize("name", [n for n in TRICKS.names() if not n.startswith("test_")])
def test_time_constants_are_positive_steps_with_a_description(name):
    tc = TRICKS.get(name)().time_constant(run_cfg(steps=1000))
    assert tc is None or (isinstance(tc, TimeConstant) and tc.steps > 0 and tc.what)


def test_the_rule_is_generic_any_trick_declaring_a_horizon_is_flagged():
    class Slow(Trick):
        name = "slow"

        def time_constant(self, cfg):
            return TimeConstant(300, "slow settles over ~300 steps", "wait")

    found = TrickStack([Slow()]).check(run_cfg(steps=1000))
    assert [(f.kind, f.trick) for f in found] == [("caveat", "slow")]
    assert "0.3× this run's 1000 steps" in found[0].message and found[0].suggestion == "wait"
    assert TrickStack([Slow()]).check(run_cfg(steps=1200)) == []


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
