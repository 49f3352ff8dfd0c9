"""Balanced consistency regularisation (Zhao et al. 2021): zero for an invariant D;
images only."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import ConstD, LinearD, cfg, ctx_for, images, make

from ganbench.config import ConfigError


def test_consistency_is_zero_for_an_invariant_d_and_positive_otherwise():
    real, fake = torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8)
    assert make("consistency").d_terms(ctx_for(ConstD(), real, fake))["bcr"].item() == 0.0
    assert make("consistency").d_terms(ctx_for(LinearD(dim=64), real, fake))["bcr"].item() > 0


def test_consistency_needs_images(tmp_path):
    with pytest.raises(ConfigError, match="consistency"):
        cfg(tmp_path, tricks={"consistency": {}})
    assert images(tmp_path, tricks={"consistency": {}}).tricks["consistency"]
