"""Feature matching (Salimans et al. 2016): the G term, and the reals it compares
passing through the same D-input transforms as the fakes."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import cfg, images, make
from torch import nn

from ganbench.train import Trainer
from ganbench.tricks import TrickStack
from ganbench.tricks.base import StepContext, Trick


class Shift(Trick):
    """Test only (2026): a deterministic D-input transform, x + 100 on either side."""

    name = "shift"

    def d_inputs(self, real, fake, step):
        move = lambda x: None if x is None else x + 100.0  # noqa: E731
        return move(real), move(fake)


class BodyD(nn.Module):
    """D whose features are its input: feature matching compares batch means of inputs."""

    body = nn.Identity()

    def forward(self, x):
        return x.sum(1)


def test_feature_matching_passes_reals_through_the_d_input_transforms():
    stack = TrickStack([Shift(), make("feature_matching")])
    x = torch.randn(64, 2)
    _, fake_in = stack.d_inputs(None, x, 0)  # as the G step does: fakes are transformed
    ctx = StepContext(nn.Identity(), BodyD(), None, fake_in, None, fake_in.sum(1), 0,
                      sample_real=lambda: x)
    # Reals equal to the fakes, both shifted: nothing to match. Clean reals would give
    # ||mean(x) - mean(x + 100)||^2 = 2e4.
    assert stack.g_terms(ctx)["fm"].item() == pytest.approx(0.0, abs=1e-6)


def test_feature_matching_sees_instance_noise_on_real_batches_in_training(tmp_path):
    tr = Trainer(cfg(tmp_path, tricks={"feature_matching": {}, "instance_noise": {"std": 100.0}}))
    seen = []
    tr.d.body.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    tr.g_step(0)
    assert len(seen) == 3  # D on the fakes; then reals and fakes for the features
    clean = tr.real(4096).std().item()  # ring8: ~1
    assert all(s.std().item() > 30 * clean for s in seen), [s.std().item() for s in seen]


def test_feature_matching_adds_a_g_term_with_gradient_to_g(tmp_path):
    tr = Trainer(images(tmp_path, tricks={"feature_matching": {}}))
    terms = tr.g_step(0)
    assert terms["fm"].item() > 0
    assert all(p.grad is not None for p in tr.g.parameters() if p.requires_grad)
