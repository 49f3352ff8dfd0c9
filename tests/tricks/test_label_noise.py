"""Label noise (ganhacks tip 6): the flipped fraction, and the losses it conflicts with."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import cfg, make

from ganbench.config import ConfigError


def test_label_noise_flips_the_stated_fraction():
    torch.manual_seed(0)
    ones, zeros = torch.ones(100_000), torch.zeros(100_000)
    r, f = make("label_noise", p=0.1).d_targets(ones, zeros)
    assert (r == 0).float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (f == 1).float().mean().item() == pytest.approx(0.1, abs=0.005)


def test_label_noise_conflicts_with_margin_losses(tmp_path):
    with pytest.raises(ConfigError, match="label_noise"):
        cfg(tmp_path, loss="hinge", tricks={"label_noise": {}})
