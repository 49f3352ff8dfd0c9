"""DRAGAN (Kodali et al. 2017): the penalty around real data and its batch-norm caveat."""

from __future__ import annotations

import math

import torch
from helpers.tricks import LinearD, ctx_for, images, make

from ganbench.specs.run import caveats


def test_dragan_penalty_positive_and_exact_for_unit_gradient():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert make("dragan").d_terms(ctx_for(LinearD(scale=0.5), real, fake))["dragan"].item() > 0
    # ||w|| = 1 -> (||g|| - 1)^2 = 0
    unit = LinearD(scale=1 / math.sqrt(2))
    assert make("dragan").d_terms(ctx_for(unit, real, fake))["dragan"].item() < 1e-10


def test_penalties_carry_the_batch_norm_caveat(tmp_path):
    c = images(tmp_path, d_norm="batch", tricks={"dragan": {}})
    assert any(f.trick == "dragan" for f in caveats(c))
