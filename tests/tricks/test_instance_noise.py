"""Instance noise (Sønderby et al. 2017): annealed to zero over the run."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import cfg

from ganbench.tricks import TRICKS


def test_instance_noise_anneals_to_zero(tmp_path):
    t = TRICKS.get("instance_noise")(TRICKS.get("instance_noise").Params(std=0.2),
                                     cfg(tmp_path, steps=100))
    assert t.sigma(0) == pytest.approx(0.2) and t.sigma(50) == pytest.approx(0.1)
    assert t.sigma(100) == 0.0
    real, fake = torch.zeros(4096, 2), torch.zeros(4096, 2)
    r, f = t.d_inputs(real, fake, 0)
    assert r.std().item() == pytest.approx(0.2, rel=0.05) and not torch.equal(r, f)
    r, f = t.d_inputs(real, fake, 100)
    assert torch.equal(r, real)
