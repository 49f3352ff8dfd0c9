"""R1 (Mescheder et al. 2018): the lazy interval, and its D-call counter through a
checkpoint. What r1 shares with r2 is tested in test_r2.py."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import LinearD, ctx_for, make

from ganbench.config import RunConfig
from ganbench.specs.run import validate
from ganbench.train import Trainer
from ganbench.train.checkpoint import FileCheckpointer


def test_r1_lazy_interval_applies_every_kth_step_scaled_by_k():
    t = make("r1", interval=4)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    seen = [t.d_terms(ctx_for(LinearD(scale=0.5), real, fake)) for _ in range(8)]
    applied = [i for i, terms in enumerate(seen) if terms["r1"].item() != 0]
    assert applied == [0, 4]  # the other steps log a zero term (a fixed set of terms)
    assert seen[0]["r1"].item() == pytest.approx(4 * 2.5)


def cfg_of(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=8, batch_size=32, device="cpu", log_every=1, eval_every=3,
                eval_samples=256, data_root=tmp_path)
    base.update(overrides)
    return validate(RunConfig(**base))


def test_trainer_state_round_trips_lazy_r1_mid_interval(tmp_path):
    # Lazy R1 (interval 3) counts D steps; 4 iterations x 2 D steps leave it mid-interval.
    # (Tested on the Trainer: train() cannot yet log a term that comes and goes.)
    cfg = cfg_of(tmp_path, tricks={"r1": {"interval": 3}, "n_critic": {"steps": 2}})
    a = Trainer(cfg)
    for step in range(4):
        a.step(step)
    ckpt = FileCheckpointer(tmp_path / "run.pt", every=1)
    ckpt.save(a.state_dict(), 4)
    b = Trainer(cfg)
    b.load_state_dict(ckpt.load())
    for step in range(4, 8):
        ta, tb = a.step(step), b.step(step)
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert b.stack.state_dict() == {"r1": {"d_calls": 16}}
    assert b.d_steps_done == a.d_steps_done == 16
