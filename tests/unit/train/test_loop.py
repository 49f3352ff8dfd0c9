"""The training loop: determinism, divergence detection, logging and evaluation cadence."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, Trainer, train

# The test-only trick test_nan_at (helpers/stub_tricks.py), registered for each test.
pytestmark = pytest.mark.usefixtures("scoped_test_tricks")


def cfg_of(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=20, batch_size=32, device="cpu", log_every=5, eval_samples=256,
                data_root=tmp_path)
    base.update(overrides)
    return validate(RunConfig(**base))


def train_metrics(tracker: MemoryTracker) -> list[tuple[int, str, float]]:
    return [m for m in tracker.metrics if not m[1].startswith("perf/")]


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_histories(tmp_path):
    runs = []
    for _ in range(2):
        tracker = MemoryTracker()
        result = train(cfg_of(tmp_path, seed=11, eval_every=10), tracker=tracker)
        runs.append((train_metrics(tracker), result.metrics))
    (a, ma), (b, mb) = runs
    assert a == b  # exact, not approximate
    assert ma == mb
    assert any(k == "train/d/adv" for _, k, _ in a) and any(k == "eval/modes" for _, k, _ in a)


def test_same_seed_with_stochastic_tricks_is_identical(tmp_path):
    # The gradient penalty draws interpolation weights from the RNG as well.
    tricks = {"gradient_penalty": {}, "spectral_norm": {}}
    a, b = MemoryTracker(), MemoryTracker()
    train(cfg_of(tmp_path, seed=2, steps=10, tricks=tricks), tracker=a)
    train(cfg_of(tmp_path, seed=2, steps=10, tricks=tricks), tracker=b)
    assert train_metrics(a) == train_metrics(b)
    assert a.history("train/d/gp")


def test_different_seed_gives_different_histories(tmp_path):
    a, b = MemoryTracker(), MemoryTracker()
    train(cfg_of(tmp_path, seed=0), tracker=a)
    train(cfg_of(tmp_path, seed=1), tracker=b)
    assert a.history("train/d/adv") != b.history("train/d/adv")
    assert [s for s, _ in a.history("train/d/adv")] == [s for s, _ in b.history("train/d/adv")]


def test_logged_value_is_the_window_mean(tmp_path):
    cfg = cfg_of(tmp_path, seed=4, steps=10, log_every=5)
    tracker = MemoryTracker()
    train(cfg, tracker=tracker)
    tr = Trainer(cfg)  # same seed: replays the same run step by step
    per_step = [tr.step(s)["d/adv"] for s in range(10)]
    expected = [torch.stack(per_step[:5]).mean().item(), torch.stack(per_step[5:]).mean().item()]
    got = tracker.history("train/d/adv")
    assert [s for s, _ in got] == [5, 10]
    assert [v for _, v in got] == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------ divergence


def test_nan_term_ends_the_run_as_diverged(tmp_path):
    tracker = MemoryTracker()
    seen: list[int] = []
    result = train(cfg_of(tmp_path, tricks={"test_nan_at": {"at": 7}}), tracker=tracker,
                   progress=lambda p: seen.append(p.step))
    assert result.status == "diverged" and result.diverged
    assert result.diverged_step == 7
    assert result.diverged_term == "d/boom"
    assert result.steps_done == 7
    assert tracker.tags["status"] == "diverged"
    assert tracker.tags["diverged_step"] == "7"
    assert tracker.tags["diverged_term"] == "d/boom"
    # The bad window (steps 5..9) is not logged as if it were fine, and the run stopped.
    assert [s for s, _ in tracker.history("train/d/adv")] == [5]
    assert seen == [5]
    assert all(math.isfinite(v) for _, _, v in tracker.metrics)


@pytest.mark.parametrize("at,log_every", [(0, 5), (4, 5), (7, 5), (19, 5), (7, 1), (12, 20)])
def test_diverged_step_is_exact_for_any_window(tmp_path, at, log_every):
    result = train(cfg_of(tmp_path, log_every=log_every, tricks={"test_nan_at": {"at": at}}))
    assert (result.status, result.diverged_step, result.diverged_term) == ("diverged", at,
                                                                           "d/boom")


def test_inf_in_a_g_term_is_detected_too(tmp_path):
    tricks = {"test_nan_at": {"at": 3, "where": "g", "value": "inf"}}
    result = train(cfg_of(tmp_path, tricks=tricks))
    assert (result.status, result.diverged_step, result.diverged_term) == ("diverged", 3,
                                                                           "g/boom")


def test_finished_run_is_tagged_finished(tmp_path):
    tracker = MemoryTracker()
    result = train(cfg_of(tmp_path, tricks={"test_nan_at": {"at": 10_000}}), tracker=tracker)
    assert result.status == "finished" and not result.diverged
    assert result.steps_done == 20 and result.diverged_step is None
    assert tracker.tags["status"] == "finished"
    assert tracker.tags["data_source"] == "synthetic" and tracker.tags["device"] == "cpu"
    assert tracker.tags["caveats"] == "none"
    assert [s for s, _ in tracker.history("train/d/boom")] == [5, 10, 15, 20]


# ------------------------------------------------------------------ logging and evaluation


def test_eval_every_schedules_evaluations(tmp_path):
    tracker = MemoryTracker()
    result = train(cfg_of(tmp_path, eval_every=10), tracker=tracker)
    assert [s for s, _ in tracker.history("train/d/adv")] == [5, 10, 15, 20]
    assert [s for s, _ in tracker.history("train/g/adv")] == [5, 10, 15, 20]
    for key in ("eval/modes", "eval/hq", "eval/reverse_kl"):
        assert [s for s, _ in tracker.history(key)] == [10, 20]
    last = {k: tracker.last(f"eval/{k}") for k in ("modes", "hq")}
    assert result.metrics["modes"] == last["modes"] and result.metrics["hq"] == last["hq"]
    assert 0 <= result.metrics["modes"] <= 8 and 0.0 <= result.metrics["hq"] <= 1.0


def test_eval_off_the_log_grid_adds_windows(tmp_path):
    tracker = MemoryTracker()
    train(cfg_of(tmp_path, eval_every=7), tracker=tracker)
    assert [s for s, _ in tracker.history("eval/modes")] == [7, 14, 20]
    assert [s for s, _ in tracker.history("train/d/adv")] == [5, 7, 10, 14, 15, 20]


def test_eval_every_zero_evaluates_only_at_the_end(tmp_path):
    tracker = MemoryTracker()
    train(cfg_of(tmp_path, eval_every=0, steps=12), tracker=tracker)
    assert [s for s, _ in tracker.history("eval/modes")] == [12]
    assert [s for s, _ in tracker.history("train/d/adv")] == [5, 10, 12]


def test_image_runs_log_no_mode_metrics(tmp_path):
    tracker = MemoryTracker()
    result = train(cfg_of(tmp_path, dataset="tiny-images", model="dcgan28", steps=2,
                          batch_size=16, log_every=1), tracker=tracker)
    assert result.status == "finished" and result.metrics == {}
    assert not [k for _, k, _ in tracker.metrics if k.startswith("eval/")]
    assert result.dataset.shape == (1, 28, 28)


def test_progress_reports_increasing_steps_ending_at_total(tmp_path):
    events: list[Progress] = []
    train(cfg_of(tmp_path, eval_every=10), progress=events.append)
    steps = [e.step for e in events]
    assert steps == [5, 10, 15, 20]
    assert all(b > a for a, b in zip(steps, steps[1:], strict=False))
    assert all(e.total == 20 for e in events)
    assert all(set(e.losses) == {"d/adv", "g/adv"} for e in events)
    assert all(math.isfinite(v) for e in events for v in e.losses.values())
    assert all(e.steps_per_s > 0 for e in events)
    assert [e.step for e in events if e.metrics is not None] == [10, 20]


def test_progress_without_tracker_and_odd_total(tmp_path):
    events: list[Progress] = []
    result = train(cfg_of(tmp_path, steps=7, log_every=3), progress=events.append)
    assert [e.step for e in events] == [3, 6, 7]
    assert result.status == "finished" and result.steps_done == 7


# ------------------------------------------------------------------ Trainer pieces


def test_step_returns_detached_prefixed_terms(tmp_path):
    tr = Trainer(cfg_of(tmp_path, tricks={"gradient_penalty": {}}))
    out = tr.step(0)
    assert set(out) == {"d/adv", "d/gp", "g/adv"}
    assert all(v.ndim == 0 and not v.requires_grad for v in out.values())


@pytest.mark.parametrize("loss", ["ns", "rpgan"])  # rpgan's G step calls D on reals too
def test_d_step_changes_only_d_and_g_step_only_g(tmp_path, loss):
    tr = Trainer(cfg_of(tmp_path, loss=loss))
    g0 = [p.detach().clone() for p in tr.g.parameters()]
    d0 = [p.detach().clone() for p in tr.d.parameters()]
    tr.d_step(0)
    assert all(torch.equal(a, b) for a, b in zip(g0, tr.g.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, tr.d.parameters(), strict=True))
    d1 = [p.detach().clone() for p in tr.d.parameters()]
    tr.g_step(0)
    assert all(torch.equal(a, b) for a, b in zip(d1, tr.d.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g0, tr.g.parameters(), strict=True))


def test_trainer_resolves_model_defaults(tmp_path):
    tr = Trainer(RunConfig(steps=1, batch_size=8, device="cpu", data_root=tmp_path))
    assert tr.cfg.z_dim == 16 and tr.cfg.d_norm == "none"
    assert tr.z(5).shape == (5, 16)
    assert tr.g(tr.z(5)).shape == (5, 2) and tr.d(tr.g(tr.z(5))).shape == (5,)


@pytest.mark.parametrize("trick", ["r1", "r2"])
def test_lazy_penalty_logs_the_window_mean_of_its_scaled_steps(tmp_path, trick):
    # interval 3: the penalty (3x weight) on D steps 0 and 3, zero on the others; every step
    # logs the same terms, so the run must not trip over steps that skip the penalty.
    tracker = MemoryTracker()
    res = train(cfg_of(tmp_path, steps=6, log_every=6, tricks={trick: {"interval": 3}}),
                tracker)
    assert res.status == "finished"
    logged = [v for s, k, v in tracker.metrics if k == f"train/d/{trick}"]
    assert len(logged) == 1 and logged[0] > 0


@pytest.mark.parametrize("tricks", [{}, {"r1": {}, "r2": {}}], ids=["plain", "r1_r2"])
def test_rpgan_trains_ring8_to_finite_metrics(tmp_path, tricks):
    # R3GAN's baseline is rpgan + R1 + R2; alone or with them, a short run must finish.
    tracker = MemoryTracker()
    res = train(cfg_of(tmp_path, loss="rpgan", steps=40, log_every=10, eval_every=20,
                       tricks=tricks), tracker)
    assert res.status == "finished" and res.steps_done == 40
    assert math.isfinite(res.metrics["modes"]) and math.isfinite(res.metrics["hq"])
    logged = {k for _, k, _ in train_metrics(tracker) if k.startswith("train/")}
    assert logged >= {"train/d/adv", "train/g/adv"} | {f"train/d/{t}" for t in tricks}
    assert all(math.isfinite(v) for _, k, v in train_metrics(tracker) if k.startswith("train/"))
