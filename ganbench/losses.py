"""Adversarial losses. D always outputs raw logits (B,) ; every loss is written to be stable.

Targets: the cross-entropy family and LSGAN take per-sample real/fake targets (B,) so
tricks such as one-sided label smoothing can change them; margin losses ignore them.
Relativistic losses (rpgan) also score G's fakes against reals: `g_uses_real`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.registry import Registry


class Loss:
    """An adversarial loss; subclasses are registered with `@register_loss("name")`, which
    sets `name`."""

    name: str = ""
    uses_targets: bool = True  # False: targets are meaningless (hinge, wasserstein)
    # True: g_loss needs D's logits on a real batch too (relativistic losses). The G step
    # draws and scores one only then, so every other loss costs what it did.
    g_uses_real: bool = False

    def d_loss(self, d_real, d_fake, real_t, fake_t) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake, d_real=None) -> torch.Tensor:
        """G's loss from D's logits on its fakes (B,); `d_real` (B,), D's logits on a real
        batch, is passed only when `g_uses_real`."""
        raise NotImplementedError


LOSSES: Registry[type[Loss]] = Registry("loss", base=Loss, classes=True)


def register_loss(obj=None, /):
    """Register a Loss subclass and give it its name: `@register_loss("name")`,
    `@register_loss` (the class's own `name`) or `register_loss(cls)`."""
    return LOSSES.register(obj)


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target)


@register_loss("ns")
class NonSaturating(Loss):
    """Goodfellow et al. 2014, the non-saturating G loss -log D(G(z)) used in practice."""

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return _bce(d_real, real_t) + _bce(d_fake, fake_t)

    def g_loss(self, d_fake):
        return _bce(d_fake, torch.ones_like(d_fake))


@register_loss("minimax")
class Minimax(NonSaturating):
    """Goodfellow et al. 2014, the original saturating G loss log(1 - D(G(z)))."""

    def g_loss(self, d_fake):
        # log(1 - sigmoid(x)) = logsigmoid(-x): stable for large |x|.
        return F.logsigmoid(-d_fake).mean()


@register_loss("hinge")
class Hinge(Loss):
    """Lim & Ye 2017 / Miyato et al. 2018: D max-margin, G raises D's score."""

    uses_targets = False

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


@register_loss("wasserstein")
class Wasserstein(Loss):
    """Arjovsky et al. 2017: critic difference; needs a Lipschitz constraint (GP, SN)."""

    uses_targets = False

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return d_fake.mean() - d_real.mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


@register_loss("lsgan")
class LeastSquares(Loss):
    """Mao et al. 2017, a-b-c = 0-1-1 coding: D regresses targets, G pushes fakes to 1."""

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return 0.5 * ((d_real - real_t).square().mean() + (d_fake - fake_t).square().mean())

    def g_loss(self, d_fake):
        return 0.5 * (d_fake - 1.0).square().mean()


def _paired(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a - b element by element; a shape mismatch would broadcast and break the pairing."""
    if a.shape != b.shape:
        raise ValueError(f"paired logits must have one shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return a - b


@register_loss("rpgan")
class RelativisticPairing(Loss):
    """Jolicoeur-Martineau 2018, relativistic pairing (RpGAN): each real is judged against
    the fake at its batch position; R3GAN (Huang et al. 2024) pairs it with R1 + R2.

    D: mean softplus(D(fake_i) - D(real_i)); G: mean softplus(D(real_i) - D(fake_i)). The
    form follows R3GAN's code, brownvc/R3GAN, R3GAN/Trainer.py (AdversarialTraining): G's
    step scores a fresh real batch with D, through D's input path, as a constant (D is not
    trained there). Papers: "The relativistic discriminator: a key element missing from
    standard GAN" (arXiv:1807.00734); "The GAN is dead; long live the GAN! A Modern GAN
    Baseline" (arXiv:2501.05441)."""

    uses_targets = False
    g_uses_real = True

    def d_loss(self, d_real, d_fake, real_t, fake_t):
        return F.softplus(-_paired(d_real, d_fake)).mean()

    def g_loss(self, d_fake, d_real=None):
        if d_real is None:
            raise ValueError("rpgan's G loss pairs each fake with a real: it needs d_real")
        return F.softplus(-_paired(d_fake, d_real)).mean()
