"""TTUR (Heusel et al. 2017): separate learning rates for D and G."""

from __future__ import annotations

import pytest
from helpers.tricks import small

from ganbench.config import ConfigError, RunConfig
from ganbench.train import Trainer
from ganbench.validate import validate


def test_ttur_default_learning_rates(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"ttur": {}}))
    assert tr.opt_d.param_groups[0]["lr"] == 4e-4
    assert tr.opt_g.param_groups[0]["lr"] == 1e-4
    assert tr.opt_d.param_groups[0]["betas"] == tr.cfg.betas  # TTUR changes rates only


def test_ttur_custom_learning_rates(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"ttur": {"d_lr": 1e-3, "g_lr": 3e-5}}))
    assert tr.opt_d.param_groups[0]["lr"] == 1e-3
    assert tr.opt_g.param_groups[0]["lr"] == 3e-5


def test_without_ttur_both_nets_use_cfg_lr(tmp_path):
    tr = Trainer(small(tmp_path, lr=3e-4))
    assert tr.opt_d.param_groups[0]["lr"] == tr.opt_g.param_groups[0]["lr"] == 3e-4


def test_ttur_rejects_out_of_range_rates():
    with pytest.raises(ConfigError, match=r"tricks\.ttur\.d_lr"):
        validate(RunConfig(tricks={"ttur": {"d_lr": 0}}))
