"""ADA (Karras et al. 2020): p follows sign(r_t - target) at the reference's speed, each image
D sees is augmented with probability p, and p is logged and survives a checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.tricks import images

from ganbench.config import ConfigError
from ganbench.tracking import MemoryTracker
from ganbench.train.loop import Trainer, train
from ganbench.tricks import TRICKS
from ganbench.tricks.base import StepContext


def ada(tmp_path, batch_size=16, **params):
    cfg = images(tmp_path, batch_size=batch_size, tricks={"ada": params})
    cls = TRICKS.get("ada")
    return cls(cls.Params(**params), cfg)


def feed(trick, d_real: torch.Tensor) -> dict[str, torch.Tensor]:
    """One D step's d_terms with D's logits on the reals set to `d_real`."""
    b = d_real.shape[0]
    x = torch.zeros(b, 1, 4, 4)
    return trick.d_terms(StepContext(torch.nn.Identity(), torch.nn.Identity(), x, x, d_real,
                                     torch.zeros(b), 0))


def test_p_rises_by_the_formula_each_interval_while_d_is_sure_of_every_real(tmp_path):
    # batch 16, interval 4, kimg 0.256: one adjustment moves p by 16 * 4 / 256 = 0.25.
    t = ada(tmp_path, kimg=0.256)
    seen = []
    for _ in range(4 * 6):
        terms = feed(t, torch.rand(16) + 0.1)  # every real scored real: r_t = 1 > 0.6
        seen.append(t.p)
        assert terms["ada_p"].item() == t.p and terms["ada_rt"].item() == 1.0
    # unchanged within an interval, up by 0.25 at its end, and on past 1 as in the reference
    assert seen == [0.25 * (i // 4) for i in range(1, 25)]


def test_the_step_size_is_batch_times_interval_over_kimg_thousand(tmp_path):
    t = ada(tmp_path, batch_size=24, interval=3, kimg=7.0)
    for _ in range(3 * 5):
        feed(t, torch.full((24,), 2.0))
    assert t.p == pytest.approx(5 * 24 * 3 / 7000, rel=1e-12)


def test_p_falls_to_zero_and_stays_there_when_reals_get_random_signs(tmp_path):
    torch.manual_seed(0)
    t = ada(tmp_path, kimg=0.256, p=0.6)
    seen = []
    for _ in range(4 * 4):
        feed(t, torch.randn(16))  # r_t near 0 < 0.6
        seen.append(t.p)
    assert seen[3::4] == pytest.approx([0.35, 0.1, 0.0, 0.0], abs=1e-12)


def test_p_does_not_move_when_r_t_equals_the_target(tmp_path):
    t = ada(tmp_path, batch_size=20, kimg=0.256, p=0.5)
    logits = torch.cat([torch.ones(16), -torch.ones(4)])  # mean sign (16 - 4) / 20 = 0.6
    for _ in range(4 * 3):
        feed(t, logits)
    assert t.p == 0.5


def test_p_zero_returns_the_inputs_untouched_and_draws_nothing():
    t = TRICKS.get("ada")()
    real, fake = torch.rand(8, 1, 16, 16), torch.rand(8, 1, 16, 16)
    rng = torch.get_rng_state()
    out_real, out_fake = t.d_inputs(real, fake, 0)
    assert torch.equal(out_real, real) and torch.equal(out_fake, fake)
    assert torch.equal(torch.get_rng_state(), rng)
    assert t.d_inputs(None, fake, 0)[0] is None


def test_p_one_changes_every_sample_and_gradients_reach_the_input():
    cls = TRICKS.get("ada")
    t = cls(cls.Params(p=1.0))
    torch.manual_seed(1)
    x = torch.rand(64, 3, 16, 16, requires_grad=True)
    real, fake = t.d_inputs(x.detach().clone(), x, 0)
    assert (fake - x).flatten(1).abs().amax(1).gt(0).all()
    assert (real - x).flatten(1).abs().amax(1).gt(0).all()
    fake.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_each_sample_is_augmented_with_probability_p():
    # Colour alone changes an image whenever it is applied, so a sample differs from its
    # input with probability p exactly: Binomial(n, p), checked at 5 standard deviations.
    cls = TRICKS.get("ada")
    torch.manual_seed(2)
    n = 4000
    for p in (0.1, 0.5, 0.85):
        t = cls(cls.Params(p=p, pipeline="color"))
        x = torch.rand(n, 1, 4, 4)
        out, _ = t.d_inputs(x, None, 0)
        changed = (out != x).flatten(1).any(1).sum().item()
        assert abs(changed - n * p) < 5 * math.sqrt(n * p * (1 - p)), (p, changed)


def test_ada_is_for_images_only_and_not_beside_diffaugment(tmp_path):
    from helpers.tricks import cfg

    with pytest.raises(ConfigError, match="ada"):
        cfg(tmp_path, tricks={"ada": {}})
    with pytest.raises(ConfigError, match="diffaugment") as e:
        images(tmp_path, tricks={"ada": {}, "diffaugment": {}})
    assert "ada" in str(e.value)
    with pytest.raises(ValueError, match="unknown augmentation"):
        TRICKS.get("ada").Params(pipeline="color,rotate")


def test_state_mid_interval_carries_on_exactly(tmp_path):
    a = ada(tmp_path, kimg=0.256)
    for _ in range(6):  # one adjustment, then half an interval
        feed(a, torch.ones(16))
    b = ada(tmp_path, kimg=0.256)
    b.load_state_dict(a.state_dict())
    for logits in (torch.ones(16), torch.ones(16), -torch.ones(16), torch.ones(16)):
        feed(a, logits)
        feed(b, logits)
        assert a.p == b.p
    assert a.p == 0.5 and a.state_dict() == b.state_dict()


def test_training_raises_p_as_d_memorises_tiny_images_and_logs_it(tmp_path):
    # 64 noise images that D separates from an untrained G's at once: r_t > 0.6, so p climbs
    # by 16 * 4 / 1280 = 0.05 every 4 steps (one D step each).
    cfg = images(tmp_path, steps=24, tricks={"ada": {"kimg": 1.28}})
    tracker = MemoryTracker()
    train(cfg, tracker=tracker)
    logged_p = [v for _, v in tracker.history("train/d/ada_p")]
    logged_rt = [v for _, v in tracker.history("train/d/ada_rt")]
    assert len(logged_p) == len(logged_rt) == 24
    # p recomputed from the logged signs of D's reals by the reference's formula
    p, want = 0.0, []
    for i, _ in enumerate(logged_rt):
        if (i + 1) % 4 == 0:
            r = sum(logged_rt[i - 3:i + 1]) / 4
            p = max(p + 0.05 * ((r > 0.6) - (r < 0.6)), 0.0)
        want.append(p)
    assert logged_p == pytest.approx(want, abs=1e-6)
    assert logged_p[-1] > 0


def test_the_logged_p_is_the_tricks_p_after_each_step(tmp_path):
    tr = Trainer(images(tmp_path, tricks={"ada": {"kimg": 1.28}}))
    (trick,) = tr.stack.tricks
    for step in range(12):
        terms = tr.step(step)
        assert terms["d/ada_p"].item() == pytest.approx(trick.p, abs=1e-7)
    assert trick.p > 0


def test_a_run_resumed_mid_interval_with_p_above_zero_is_identical(tmp_path):
    # The contract's resume check runs ada at its defaults, where p barely leaves 0; here p
    # climbs from step 4 and the checkpoint at step 6 falls inside an interval.
    from helpers.resume import Crash, RecordingCheckpointer, history

    cfg = images(tmp_path, steps=12, tricks={"ada": {"kimg": 1.28}})
    ref_tracker = MemoryTracker()
    ref = train(cfg, tracker=ref_tracker)
    ckpt = RecordingCheckpointer(tmp_path / "run.pt", 3)

    def crash(p):
        if p.step == 8:
            raise Crash

    with pytest.raises(Crash):
        train(cfg, tracker=MemoryTracker(), progress=crash, checkpoints=ckpt)
    assert ckpt.saved_at == [3, 6]
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=ckpt)
    assert resumed.resumed_from == 6
    assert history(tracker) == history(ref_tracker)
    assert max(v for _, v in ref_tracker.history("train/d/ada_p")) > 0
    for got, want in ((resumed.g, ref.g), (resumed.d, ref.d)):
        for (k, a), b in zip(got.state_dict().items(), want.state_dict().values(), strict=True):
            assert torch.equal(a, b), k
