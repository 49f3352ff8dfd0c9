"""Evaluation noise (issue 30): the final generator scored with k draws of fresh latent
samples, recorded apart from seed-to-seed noise; one draw is today's evaluation exactly."""

from __future__ import annotations

import math
import statistics

import pytest

from ganbench.config import RunConfig
from ganbench.metrics.draws import draw_seed, summarise
from ganbench.specs.plan import canonical, digest
from ganbench.tracking.base import MemoryTracker
from ganbench.train import train
from ganbench.train.loop import Trainer

# A few steps: long enough that some samples are high-quality, so draws differ.
TINY = dict(steps=100, batch_size=32, log_every=50, eval_samples=300, device="cpu")


@pytest.fixture(scope="module")
def trained():
    tr = Trainer(RunConfig(**{**TINY, "eval_samples": 4000}, eval_repeats=4))
    for step in range(tr.cfg.steps):
        tr.step(step)
    return tr


def test_k_draws_give_k_distinct_values_with_a_spread(trained):
    draws = [trained.evaluate(draw=j)["hq"] for j in range(4)]
    assert len(set(draws)) == 4, draws
    ev, every = trained.evaluate_draws()
    assert [d["hq"] for d in every] == draws  # the draws are reproducible
    assert ev["hq_eval_sd"] > 0
    assert ev["hq_eval_sd"] == pytest.approx(statistics.stdev(draws))
    assert ev["hq"] == draws[0]  # the recorded value is the first draw


def test_draw_zero_is_the_runs_own_evaluation(trained):
    assert dict(trained.evaluate()) == dict(trained.evaluate(draw=0))
    assert dict(trained.evaluate_draws(repeats=1)[0]) == dict(trained.evaluate())


def test_draw_seeds_are_reproducible_and_distinct():
    assert draw_seed(7919, 0, 0, "z") == 7919  # draw 0: today's seed
    seeds = {draw_seed(7919, 0, j, s) for j in range(1, 50) for s in ("z", "fidelity")}
    assert len(seeds) == 98 and all(0 <= s < 2**32 for s in seeds)
    assert draw_seed(7919, 0, 3, "z") == draw_seed(7919, 0, 3, "z")
    assert draw_seed(7920, 1, 3, "z") != draw_seed(7919, 0, 3, "z")


def test_summarise_leaves_out_what_was_not_measured():
    draws = [{"a": 1.0, "b": math.nan, "c": 2.0}, {"a": 3.0, "b": 1.0, "c": 2.0}]
    out = summarise(draws, {"a", "b", "c"})
    assert out == {"a_eval_mean": 2.0, "a_eval_sd": pytest.approx(math.sqrt(2)),
                   "c_eval_mean": 2.0, "c_eval_sd": 0.0}  # b: one defined draw: no sd
    assert summarise(draws[:1], {"a"}) == {}


def test_one_draw_reproduces_a_run_without_the_field_exactly():
    plain = train(RunConfig(**TINY))
    one = train(RunConfig(**TINY, eval_repeats=1))
    three_tracker = MemoryTracker()
    three = train(RunConfig(**TINY, eval_repeats=3), three_tracker)
    assert one.metrics == pytest.approx(plain.metrics, nan_ok=True, rel=0, abs=0)
    assert not any(k.endswith("_eval_sd") for k in plain.metrics)
    # k > 1 changes nothing recorded before: the first draw is the run's value
    for k, v in plain.metrics.items():
        assert three.metrics[k] == v or (math.isnan(v) and math.isnan(three.metrics[k])), k
    # the spread is logged beside the value, at the last step
    assert three_tracker.history("eval/mode_score_eval_sd") == [
        (100, three.metrics["mode_score_eval_sd"])]
    assert three_tracker.last("eval/mode_score/final") == plain.metrics["mode_score"]


def test_run_keys_keep_their_value_at_the_default():
    base = RunConfig(**TINY)
    assert digest(canonical(base)) == digest(canonical(RunConfig(**TINY, eval_repeats=1)))
    assert digest(canonical(base)) != digest(canonical(RunConfig(**TINY, eval_repeats=3)))
    assert "eval_repeats" in RunConfig.evaluation_fields()  # `score` may change it
    assert "eval_repeats" not in RunConfig.not_identity()


def test_eval_repeats_is_checked():
    for bad in (0, -1, True, 10**6):
        with pytest.raises(ValueError):
            RunConfig(eval_repeats=bad)


def test_fid_draws_take_fresh_noise_seeds_and_draw_zero_keeps_the_runs(tmp_path, monkeypatch):
    # torch-fidelity draws G's noise (and KID's subsets) from numpy with rng_seed: each
    # draw gets its own; draw 0 the run's seed, as before. (Plumbing: no Inception pass.)
    import torch

    from ganbench.metrics import fidelity as fid

    from .test_fidelity import fake_weights, images_ds, noise

    ev = fid.FidelityEvaluator(images_ds(noise(8)), ["fid"], n_gen=8, root=tmp_path,
                               weights=fake_weights(tmp_path, head=False), seed=5)
    seen = []
    monkeypatch.setattr(ev, "_calculate", lambda inp, n, rng_seed=None: seen.append(rng_seed))
    g = torch.nn.Linear(4, 28 * 28)
    for j in range(3):
        ev(g, 4, draw=j)
    assert seen[0] == 5 and len(set(seen)) == 3
    assert seen[1:] == [draw_seed(5, 5, j, "fidelity") for j in (1, 2)]


def test_stacked_seeds_record_the_draws_their_lone_runs_record():
    from ganbench.train.vectorised import train_vectorised

    cfgs = [RunConfig(**{**TINY, "steps": 40, "log_every": 20}, eval_repeats=3, seed=s)
            for s in (0, 1)]
    for cfg, stacked in zip(cfgs, train_vectorised(cfgs), strict=True):
        lone = train(cfg)
        assert set(stacked.metrics) == set(lone.metrics)
        assert "mode_score_eval_sd" in lone.metrics
        # float32 stacking: to rounding (tests/unit/train/test_vectorised.py's tolerance)
        assert stacked.metrics == pytest.approx(lone.metrics, rel=1e-4, abs=1e-6, nan_ok=True)
