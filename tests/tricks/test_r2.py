"""R2 (Mescheder et al. 2018), R1's penalty on fake data: the exact values it shares
with r1, and the data each of them penalises."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import ConstD, LinearD, ctx_for, make

from ganbench.tricks.base import StepContext


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_zero_centred_penalty_is_zero_for_constant_d_and_exact_for_linear(name):
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    t = make(name)
    assert t.d_terms(ctx_for(ConstD(), real, fake))[name].item() == pytest.approx(0.0, abs=1e-12)
    # Linear D with weight w: ||grad||^2 = ||w||^2 = 2 * s^2 -> gamma/2 * 2 s^2 = 10 * 0.25 = 2.5
    value = make(name).d_terms(ctx_for(LinearD(scale=0.5), real, fake))[name].item()
    assert value == pytest.approx(10 / 2 * 2 * 0.25)


def test_r1_penalises_real_and_r2_fake_data():
    # A D whose gradient depends on the input (quadratic) tells real from fake apart.
    quad = lambda x: (x ** 2).sum(1)  # noqa: E731
    real, fake = torch.zeros(8, 2), torch.ones(8, 2)
    r1 = make("r1").d_terms(StepContext(None, quad, real, fake, quad(real), quad(fake), 0))
    r2 = make("r2").d_terms(StepContext(None, quad, real, fake, quad(real), quad(fake), 0))
    assert r1["r1"].item() == pytest.approx(0.0) and r2["r2"].item() > 0
