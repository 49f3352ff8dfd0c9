"""One-sided label smoothing (Salimans et al. 2016): real targets, the D loss they
change, and the losses it conflicts with."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import small

from ganbench.config import ConfigError, RunConfig
from ganbench.specs.run import caveats, validate
from ganbench.train import Trainer


def test_label_smoothing_targets(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"label_smoothing": {}}))
    real_t, fake_t = tr.stack.d_targets(tr.ones, tr.zeros)
    assert real_t.shape == tr.ones.shape and fake_t.shape == tr.zeros.shape
    assert torch.equal(real_t, torch.full_like(tr.ones, 0.9))
    assert torch.equal(fake_t, torch.zeros_like(tr.zeros))
    custom = Trainer(small(tmp_path, tricks={"label_smoothing": {"real": 0.75}}))
    assert torch.equal(custom.stack.d_targets(custom.ones, custom.zeros)[0],
                       torch.full_like(custom.ones, 0.75))


def test_label_smoothing_changes_the_d_loss_for_the_same_seed(tmp_path):
    plain = Trainer(small(tmp_path, seed=3)).step(0)
    smooth = Trainer(small(tmp_path, seed=3, tricks={"label_smoothing": {}})).step(0)
    assert set(smooth) == set(plain)
    assert smooth["d/adv"].item() != plain["d/adv"].item()
    # Smoothing the real target only raises BCE's floor; D's logits are ~0 at init, so the
    # change must be small (the same nets and data were used).
    assert abs(smooth["d/adv"].item() - plain["d/adv"].item()) < 0.2


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
def test_label_smoothing_conflicts_with_margin_losses(loss):
    with pytest.raises(ConfigError) as info:
        validate(RunConfig(loss=loss, tricks={"label_smoothing": {}}))
    msg = str(info.value)
    assert "label_smoothing" in msg
    assert repr(loss) in msg or loss in msg
    assert "ns" in msg.split("suggestion", 1)[-1]
    assert "conflict" in msg


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_label_smoothing_is_fine_with_cross_entropy_losses(loss):
    cfg = validate(RunConfig(loss=loss, tricks={"label_smoothing": {}}))
    assert caveats(cfg) == []


def test_label_smoothing_with_lsgan_is_a_caveat_not_a_conflict():
    cfg = validate(RunConfig(loss="lsgan", tricks={"label_smoothing": {}}))
    found = caveats(cfg)
    assert [f.trick for f in found] == ["label_smoothing"]
    assert found[0].kind == "caveat"
