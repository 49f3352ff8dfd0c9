"""Adversarial losses: known values, numerical stability at huge logits, finite gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganbench.config import ConfigError, RunConfig
from ganbench.losses import LOSSES
from ganbench.specs.run import validate

ALL = LOSSES.names()
LOG2 = math.log(2.0)


def loss(name: str):
    return LOSSES.get(name)()


def targets(n: int, real: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((n,), real), torch.zeros(n)


def g_loss(fn, d_fake: torch.Tensor, d_real: torch.Tensor) -> torch.Tensor:
    """G's loss as the G step calls it: with D's real logits only when the loss asks."""
    return fn.g_loss(d_fake, d_real) if fn.g_uses_real else fn.g_loss(d_fake)


# ------------------------------------------------------------------ generic contracts


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_finite_values_and_gradients_at_huge_logits(name, scale):
    fn = loss(name)
    d_real = torch.tensor([scale, -scale, 0.0, scale], requires_grad=True)
    d_fake = torch.tensor([-scale, scale, scale, 0.0], requires_grad=True)
    real_t, fake_t = targets(4)
    d = fn.d_loss(d_real, d_fake, real_t, fake_t)
    g = g_loss(fn, d_fake, d_real)
    assert d.ndim == 0 and g.ndim == 0
    assert torch.isfinite(d) and torch.isfinite(g)
    (d + g).backward()
    assert torch.isfinite(d_real.grad).all() and torch.isfinite(d_fake.grad).all()


@pytest.mark.parametrize("name", ALL)
def test_gradients_finite_and_nonzero_at_moderate_logits(name):
    fn = loss(name)
    torch.manual_seed(0)
    d_real = torch.randn(16, requires_grad=True)
    d_fake = torch.randn(16, requires_grad=True)
    fn.d_loss(d_real, d_fake, *targets(16)).backward()
    assert torch.isfinite(d_real.grad).all() and d_real.grad.abs().sum() > 0
    d_fake2 = torch.randn(16, requires_grad=True)
    g_loss(fn, d_fake2, torch.randn(16)).backward()
    assert torch.isfinite(d_fake2.grad).all() and d_fake2.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ALL)
def test_g_loss_falls_as_d_calls_fakes_real(name):
    fn = loss(name)
    xs = torch.linspace(-3.0, 0.5, 8)
    values = [g_loss(fn, torch.full((4,), x.item()), torch.zeros(4)).item() for x in xs]
    assert all(b < a for a, b in zip(values, values[1:], strict=False)), values


@pytest.mark.parametrize("name", ALL)
def test_d_loss_falls_as_d_separates_real_from_fake(name):
    fn = loss(name)
    worse = fn.d_loss(torch.zeros(4), torch.full((4,), 0.9), *targets(4))
    better = fn.d_loss(torch.full((4,), 0.5), torch.full((4,), 0.4), *targets(4))
    assert better < worse


@pytest.mark.parametrize("name", ALL)
def test_uses_targets_matches_behaviour(name):
    fn = loss(name)
    d_real, d_fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.5, 0.7, 1.1])
    a = fn.d_loss(d_real, d_fake, *targets(3, 1.0))
    b = fn.d_loss(d_real, d_fake, *targets(3, 0.9))
    if fn.uses_targets:
        assert a != b
    else:
        assert a == b


def test_which_losses_use_targets():
    uses = {n for n in ALL if LOSSES.get(n).uses_targets}
    assert uses == {"ns", "minimax", "lsgan"}


def test_only_relativistic_losses_ask_g_for_real_logits():
    assert {n for n in ALL if LOSSES.get(n).g_uses_real} == {"rpgan"}


# ------------------------------------------------------------------ known values


def test_ns_known_values():
    fn = loss("ns")
    z = torch.zeros(5)
    assert fn.d_loss(z, z, *targets(5)).item() == pytest.approx(2 * LOG2)
    assert fn.g_loss(z).item() == pytest.approx(LOG2)
    # Huge correct logits cost ~0, huge wrong ones cost ~|logit| (no inf, no nan).
    big = torch.full((2,), 1e4)
    assert fn.d_loss(big, -big, *targets(2)).item() == pytest.approx(0.0, abs=1e-6)
    assert fn.d_loss(-big, big, *targets(2)).item() == pytest.approx(2e4, rel=1e-6)
    assert fn.g_loss(-big).item() == pytest.approx(1e4, rel=1e-6)


def test_ns_matches_float64_reference():
    torch.manual_seed(1)
    d_real, d_fake = torch.randn(64) * 5, torch.randn(64) * 5
    real_t, fake_t = targets(64, 0.9)
    r, f = d_real.double(), d_fake.double()
    # BCE with logits: softplus(x) - t * x.
    ref_d = (F.softplus(r) - 0.9 * r).mean() + F.softplus(f).mean()
    ref_g = F.softplus(-f).mean()
    fn = loss("ns")
    assert fn.d_loss(d_real, d_fake, real_t, fake_t).item() == pytest.approx(ref_d.item(),
                                                                             rel=1e-5)
    assert fn.g_loss(d_fake).item() == pytest.approx(ref_g.item(), rel=1e-5)


def test_minimax_g_loss_is_log_one_minus_sigmoid():
    x = torch.linspace(-20, 20, 101)
    ref = torch.log1p(-torch.sigmoid(x.double())).mean()
    assert loss("minimax").g_loss(x).item() == pytest.approx(ref.item(), rel=1e-5)
    # Saturation: log(1 - sigmoid(1e4)) = -1e4 exactly in the limit, not -inf.
    assert loss("minimax").g_loss(torch.full((3,), 1e4)).item() == pytest.approx(-1e4, rel=1e-6)
    assert loss("minimax").g_loss(torch.full((3,), -1e4)).item() == pytest.approx(0.0, abs=1e-6)


def test_minimax_shares_the_ns_d_loss():
    torch.manual_seed(2)
    d_real, d_fake = torch.randn(8), torch.randn(8)
    t = targets(8)
    assert loss("minimax").d_loss(d_real, d_fake, *t) == loss("ns").d_loss(d_real, d_fake, *t)


def test_hinge_known_values():
    fn = loss("hinge")
    t = targets(3)
    assert fn.d_loss(torch.full((3,), 2.0), torch.full((3,), -2.0), *t).item() == 0.0
    assert fn.d_loss(torch.zeros(3), torch.zeros(3), *t).item() == pytest.approx(2.0)
    # Margins: only the violating amount counts.
    assert fn.d_loss(torch.tensor([0.5, 3.0]), torch.tensor([-3.0, -0.25]),
                     *targets(2)).item() == pytest.approx(0.25 + 0.375)
    assert fn.g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_wasserstein_is_difference_of_means():
    torch.manual_seed(3)
    d_real, d_fake = torch.randn(32) * 10, torch.randn(32) * 10
    fn = loss("wasserstein")
    assert fn.d_loss(d_real, d_fake, *targets(32)).item() == pytest.approx(
        (d_fake.mean() - d_real.mean()).item(), rel=1e-6, abs=1e-6)
    assert fn.g_loss(d_fake).item() == pytest.approx(-d_fake.mean().item(), rel=1e-6)


def test_lsgan_known_values():
    fn = loss("lsgan")
    ones, zeros = torch.ones(4), torch.zeros(4)
    assert fn.d_loss(ones, zeros, *targets(4)).item() == 0.0  # perfect D
    assert fn.d_loss(zeros, ones, *targets(4)).item() == pytest.approx(1.0)  # 0.5 * (1 + 1)
    assert fn.g_loss(ones).item() == 0.0
    assert fn.g_loss(zeros).item() == pytest.approx(0.5)
    # Targets are regression targets: real target 0.9 makes 0.9 the optimum.
    assert fn.d_loss(torch.full((4,), 0.9), zeros, *targets(4, 0.9)).item() == pytest.approx(0.0)


def test_rpgan_equal_logits_cost_log_2():
    fn = loss("rpgan")
    x = torch.tensor([-3.0, 0.0, 2.5, 40.0])
    assert fn.d_loss(x, x.clone(), *targets(4)).item() == pytest.approx(LOG2)
    assert fn.g_loss(x.clone(), x).item() == pytest.approx(LOG2)


def test_rpgan_falls_as_its_side_wins_the_pair():
    fn = loss("rpgan")
    gaps = torch.linspace(-4.0, 4.0, 9)
    base = torch.tensor([-1.0, 0.5, 2.0])
    # D wins as D(real) - D(fake) grows; G as D(fake) - D(real) grows.
    d = [fn.d_loss(base + g, base.clone(), *targets(3)).item() for g in gaps]
    g = [fn.g_loss(base + gap, base.clone()).item() for gap in gaps]
    assert all(b < a for a, b in zip(d, d[1:], strict=False)), d
    assert all(b < a for a, b in zip(g, g[1:], strict=False)), g


def test_rpgan_pairs_reals_and_fakes_element_wise():
    fn = loss("rpgan")
    d_real, d_fake = torch.tensor([1.0, -1.0]), torch.tensor([1.0, -1.0])
    swapped = d_fake.flip(0)
    # Paired: both differences 0. Swapped: differences +-2, mean of softplus(2), softplus(-2).
    crossed = (math.log1p(math.exp(2.0)) + math.log1p(math.exp(-2.0))) / 2
    assert fn.d_loss(d_real, d_fake, *targets(2)).item() == pytest.approx(LOG2)
    assert fn.d_loss(d_real, swapped, *targets(2)).item() == pytest.approx(crossed)
    assert fn.g_loss(d_fake, d_real).item() == pytest.approx(LOG2)
    assert fn.g_loss(swapped, d_real).item() == pytest.approx(crossed)


def test_rpgan_matches_the_r3gan_form_in_float64():
    # brownvc/R3GAN, R3GAN/Trainer.py: D softplus(-(real - fake)), G softplus(-(fake - real)).
    torch.manual_seed(4)
    d_real, d_fake = torch.randn(64) * 5, torch.randn(64) * 5
    r, f = d_real.double(), d_fake.double()
    ref_d = torch.log1p(torch.exp(f - r)).mean()
    ref_g = torch.log1p(torch.exp(r - f)).mean()
    fn = loss("rpgan")
    assert fn.d_loss(d_real, d_fake, *targets(64)).item() == pytest.approx(ref_d.item(),
                                                                           rel=1e-5)
    assert fn.g_loss(d_fake, d_real).item() == pytest.approx(ref_g.item(), rel=1e-5)


def test_rpgan_refuses_unpaired_logits():
    fn = loss("rpgan")
    with pytest.raises(ValueError, match="d_real"):
        fn.g_loss(torch.zeros(4))
    with pytest.raises(ValueError, match="one shape"):
        fn.g_loss(torch.zeros(4), torch.zeros(1))  # would broadcast silently
    with pytest.raises(ValueError, match="one shape"):
        fn.d_loss(torch.zeros(2), torch.zeros(4), *targets(4))


@pytest.mark.parametrize("trick", ["label_smoothing", "label_noise"])
def test_rpgan_refuses_target_tricks_at_config_check(trick):
    # Its pairs have no real/fake targets to smooth or flip.
    with pytest.raises(ConfigError) as e:
        validate(RunConfig(loss="rpgan", tricks={trick: {}}))
    assert trick in str(e.value) and "'rpgan'" in str(e.value)
