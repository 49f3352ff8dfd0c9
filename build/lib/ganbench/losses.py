"""Adversarial losses. D always outputs raw logits (B,) ; every loss is written to be stable.

Targets: the cross-entropy family and LSGAN take per-sample real/fake targets (B,) so
tricks such as one-sided label smoothing can change them; margin losses ignore them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.registry import Registry


class Loss:
    name: str = ""
    uses_targets: bool = True  # False: targets are meaningless (hinge, wasserstein)

    def d_loss(self, d_real, d_fake, real_t, fake_t) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake) -> torch.Tensor:
        raise NotImplementedError


LOSSES: Registry[type[Loss]] = Registry("loss")


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target)


@LOSSES.register("ns")
class NonSaturating(Loss):
    """Goodfellow et al. 2014, the non-saturating G loss -log D(G(z)) used in practice."""

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return _bce(d_real, real_t) + _bce(d_fake, fake_t)

    def g_loss(self, d_fake):
        return _bce(d_fake, torch.ones_like(d_fake))


@LOSSES.register("minimax")
class Minimax(NonSaturating):
    """Goodfellow et al. 2014, the original saturating G loss log(1 - D(G(z)))."""

    def g_loss(self, d_fake):
        # log(1 - sigmoid(x)) = logsigmoid(-x): stable for large |x|.
        return F.logsigmoid(-d_fake).mean()


@LOSSES.register("hinge")
class Hinge(Loss):
    """Lim & Ye 2017 / Miyato et al. 2018: D max-margin, G raises D's score."""

    uses_targets = False

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


@LOSSES.register("wasserstein")
class Wasserstein(Loss):
    """Arjovsky et al. 2017: critic difference; needs a Lipschitz constraint (GP, SN)."""

    uses_targets = False

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return d_fake.mean() - d_real.mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


@LOSSES.register("lsgan")
class LeastSquares(Loss):
    """Mao et al. 2017, a-b-c = 0-1-1 coding: D regresses targets, G pushes fakes to 1."""

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return 0.5 * ((d_real - real_t).square().mean() + (d_fake - fake_t).square().mean())

    def g_loss(self, d_fake):
        return 0.5 * (d_fake - 1.0).square().mean()
