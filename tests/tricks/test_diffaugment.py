"""DiffAugment (Zhao et al. 2020): gradients flow through each augmentation; images only."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import cfg, make

from ganbench.config import ConfigError
from ganbench.tricks.augment import AUGMENTS


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diffaugment_gradients_flow_through_the_augmentation(policy):
    t = make("diffaugment", policy=policy)
    x = torch.rand(4, 1, 16, 16, requires_grad=True)
    real, fake = t.d_inputs(torch.rand(4, 1, 16, 16), x, 0)
    assert real.shape == fake.shape == (4, 1, 16, 16) and not torch.equal(fake, x)
    fake.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    _, g_fake = t.d_inputs(None, x, 0)  # G step: only fakes are augmented
    assert g_fake.shape == x.shape


def test_diffaugment_is_for_images_only(tmp_path):
    with pytest.raises(ConfigError, match="diffaugment"):
        cfg(tmp_path, tricks={"diffaugment": {}})
    with pytest.raises(ValueError, match="unknown augmentation"):
        make("diffaugment", policy="color,rotate")
    assert set(AUGMENTS) >= {"color", "translation", "cutout"}
