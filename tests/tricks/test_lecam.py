"""LeCam regularisation (Tseng et al. 2021): moving anchors and a positive penalty."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import LinearD, ctx_for, make


def test_lecam_anchors_move_and_penalty_is_positive():
    t = make("lecam", decay=0.5)
    d = LinearD(scale=1.0)
    real, fake = torch.ones(8, 2), -torch.ones(8, 2)
    first = t.d_terms(ctx_for(d, real, fake))
    a_real, a_fake = t.anchor_real.item(), t.anchor_fake.item()
    t.d_terms(ctx_for(d, real * 3, fake * 3))
    assert t.anchor_real.item() != a_real and t.anchor_fake.item() != a_fake
    assert t.anchor_real.item() == pytest.approx(0.5 * a_real + 0.5 * d(real * 3).mean().item())
    assert first["lecam"].item() > 0
