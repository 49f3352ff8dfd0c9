"""Each canon trick's observable effect (issue: the best-practice canon)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.config import ConfigError, RunConfig
from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train
from ganbench.tricks import TRICKS
from ganbench.tricks.augment import AUGMENTS
from ganbench.tricks.base import StepContext, Trick, TrickStack
from ganbench.validate import caveats, validate


def cfg(tmp_path, **kw) -> RunConfig:
    base = dict(steps=4, batch_size=16, device="cpu", log_every=1, eval_samples=64,
                data_root=tmp_path)
    return validate(RunConfig(**{**base, **kw}))


def images(tmp_path, **kw) -> RunConfig:
    return cfg(tmp_path, dataset="tiny-images", model="dcgan28", **kw)


def ctx_for(d, real, fake, step=0) -> StepContext:
    return StepContext(nn.Identity(), d, real, fake, d(real), d(fake), step,
                       sample_real=lambda: real)


class ConstD(nn.Module):
    """D(x) = c for every x: zero input gradient everywhere."""

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(0.3))

    def forward(self, x):
        return self.c.expand(x.shape[0]) + 0 * x.flatten(1).sum(1)


class LinearD(nn.Module):
    def __init__(self, dim=2, scale=1.0):
        super().__init__()
        self.lin = nn.Linear(dim, 1)
        with torch.no_grad():
            self.lin.weight.fill_(scale)

    def forward(self, x):
        return self.lin(x.flatten(1)).squeeze(1)


def make(name, **params):
    cls = TRICKS.get(name)
    return cls(cls.Params(**params))


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_zero_centred_penalty_is_zero_for_constant_d_and_exact_for_linear(name):
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    t = make(name)
    assert t.d_terms(ctx_for(ConstD(), real, fake))[name].item() == pytest.approx(0.0, abs=1e-12)
    # Linear D with weight w: ||grad||^2 = ||w||^2 = 2 * s^2 -> gamma/2 * 2 s^2 = 10 * 0.25 = 2.5
    value = make(name).d_terms(ctx_for(LinearD(scale=0.5), real, fake))[name].item()
    assert value == pytest.approx(10 / 2 * 2 * 0.25)


def test_r1_lazy_interval_applies_every_kth_step_scaled_by_k():
    t = make("r1", interval=4)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    seen = [t.d_terms(ctx_for(LinearD(scale=0.5), real, fake)) for _ in range(8)]
    applied = [i for i, terms in enumerate(seen) if terms["r1"].item() != 0]
    assert applied == [0, 4]  # the other steps log a zero term (a fixed set of terms)
    assert seen[0]["r1"].item() == pytest.approx(4 * 2.5)


def test_r1_penalises_real_and_r2_fake_data():
    # A D whose gradient depends on the input (quadratic) tells real from fake apart.
    quad = lambda x: (x ** 2).sum(1)  # noqa: E731
    real, fake = torch.zeros(8, 2), torch.ones(8, 2)
    r1 = make("r1").d_terms(StepContext(None, quad, real, fake, quad(real), quad(fake), 0))
    r2 = make("r2").d_terms(StepContext(None, quad, real, fake, quad(real), quad(fake), 0))
    assert r1["r1"].item() == pytest.approx(0.0) and r2["r2"].item() > 0


def test_dragan_penalty_positive_and_exact_for_unit_gradient():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert make("dragan").d_terms(ctx_for(LinearD(scale=0.5), real, fake))["dragan"].item() > 0
    # ||w|| = 1 -> (||g|| - 1)^2 = 0
    unit = LinearD(scale=1 / math.sqrt(2))
    assert make("dragan").d_terms(ctx_for(unit, real, fake))["dragan"].item() < 1e-10


def test_n_critic_runs_that_many_d_steps(tmp_path):
    tr = Trainer(cfg(tmp_path, tricks={"n_critic": {"steps": 3}}))
    for step in range(4):
        tr.step(step)
    assert tr.d_steps_done == 12
    plain = Trainer(cfg(tmp_path))
    plain.step(0)
    assert plain.d_steps_done == 1


@pytest.mark.parametrize("warmup,step,expected", [(False, 0, 0.9), (True, 0, 0.1),
                                                  (True, 20, 0.7), (True, 500, 0.9)])
def test_ema_weights_lag_raw_weights_by_the_decay(tmp_path, warmup, step, expected):
    # With the warm-up the decay is min(decay, (1 + t) / (10 + t)): 0.1 at t=0, 0.7 at t=20.
    tr = Trainer(cfg(tmp_path, tricks={"ema": {"decay": 0.9, "warmup": warmup}}))
    ema = next(t for t in tr.stack.tricks if t.name == "ema")
    assert ema.decay_at(step) == pytest.approx(expected)
    before = [p.detach().clone() for p in ema.g_ema.parameters()]
    tr.step(step)
    for b, p_ema, p in zip(before, ema.g_ema.parameters(), tr.g.parameters(), strict=True):
        assert torch.allclose(p_ema, expected * b + (1 - expected) * p.detach(), atol=1e-6)
    assert tr.eval_g is ema.g_ema and tr.eval_g is not tr.g
    tracker = MemoryTracker()
    result = train(cfg(tmp_path, tricks={"ema": {}}), tracker)
    assert tracker.tags["eval_generator"] == "ema" and result.g is not None


def test_ema_start_copies_weights_until_start(tmp_path):
    tr = Trainer(cfg(tmp_path, tricks={"ema": {"decay": 0.9, "start": 5}}))
    ema = next(t for t in tr.stack.tricks if t.name == "ema")
    tr.step(0)
    for p_ema, p in zip(ema.g_ema.parameters(), tr.g.parameters(), strict=True):
        assert torch.equal(p_ema, p.detach())


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


def test_label_noise_flips_the_stated_fraction():
    torch.manual_seed(0)
    ones, zeros = torch.ones(100_000), torch.zeros(100_000)
    r, f = make("label_noise", p=0.1).d_targets(ones, zeros)
    assert (r == 0).float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert (f == 1).float().mean().item() == pytest.approx(0.1, abs=0.005)


def test_label_noise_conflicts_with_margin_losses(tmp_path):
    with pytest.raises(ConfigError, match="label_noise"):
        cfg(tmp_path, loss="hinge", tricks={"label_noise": {}})


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


def test_minibatch_std_adds_one_channel_to_ds_last_block(tmp_path):
    for c in (images(tmp_path), cfg(tmp_path)):
        plain = Trainer(c)
        with_std = Trainer(c.model_copy(update={"tricks": {"minibatch_std": {}}}))
        x = plain.data.sample(8)
        feats = with_std.d.mbstd(with_std.d.body(x))
        assert feats.shape[1] == plain.d.body(x).shape[1] + 1
        # the extra channel is the batch's std: identical samples give ~0
        same = with_std.d.mbstd(with_std.d.body(x[:1].expand(8, *x.shape[1:]).contiguous()))
        assert same[:, -1].abs().max().item() < 1e-3


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


def test_consistency_is_zero_for_an_invariant_d_and_positive_otherwise():
    real, fake = torch.rand(8, 1, 8, 8), torch.rand(8, 1, 8, 8)
    assert make("consistency").d_terms(ctx_for(ConstD(), real, fake))["bcr"].item() == 0.0
    assert make("consistency").d_terms(ctx_for(LinearD(dim=64), real, fake))["bcr"].item() > 0


def test_consistency_needs_images(tmp_path):
    with pytest.raises(ConfigError, match="consistency"):
        cfg(tmp_path, tricks={"consistency": {}})
    assert images(tmp_path, tricks={"consistency": {}}).tricks["consistency"]


def test_penalties_carry_the_batch_norm_caveat(tmp_path):
    c = images(tmp_path, d_norm="batch", tricks={"dragan": {}})
    assert any(f.trick == "dragan" for f in caveats(c))


def test_seventeen_tricks_are_registered():  # the canon (16) and pack (PacGAN)
    assert len([n for n in TRICKS.names() if not n.startswith("test_")]) == 17


@pytest.mark.parametrize("dataset,model,loss", [("ring8", "mlp", "ns"),
                                                ("tiny-images", "dcgan28", "hinge")])
def test_matrix_agrees_with_what_sweep_expansion_drops(dataset, model, loss):
    from ganbench.config import SweepSpec
    from ganbench.sweep.design import PlanError, plan
    from ganbench.validate import pair_matrix

    names, verdicts = pair_matrix(dataset, model, loss)
    names = [n for n in names if not n.startswith("test_")]
    assert any(v == "conflict" for v in verdicts.values())
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            spec = SweepSpec.model_validate({
                "name": "m", "base": {"dataset": dataset, "model": model, "loss": loss},
                "tricks": {a: ["on"], b: ["on"]}, "seeds": 1, "metric": {"name": "modes"},
            })
            try:
                dropped = not plan(spec).cells
            except PlanError as e:
                # The one cell dropped -> "the grid is empty"; a kept image cell fails only
                # the later metric check ('modes' is for 2-D data), which is not a drop.
                assert "grid is empty" in str(e) or "does not provide" in str(e), e
                dropped = "grid is empty" in str(e)
            assert dropped == (verdicts[(a, b)] == "conflict"), (a, b, verdicts[(a, b)])
