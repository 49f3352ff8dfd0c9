"""Vectorised seeds: every seed trained stacked ends where `train(cfg)` alone ends.

Each case runs twice. In float64 the stacked and lone runs agree to ~1e-15: that is the
proof that the stacking itself (data, RNG routing, per-seed losses and gradients, buffers,
divergence) is exact. In float32, the dtype runs use, they agree to float rounding, which
GAN training amplifies: the stacked nets run batched kernels (bmm, grouped convolutions)
that round differently from the lone nets' in the last bit, and Adam turns 1-ulp
differences in gradient elements that are themselves at rounding level into steps of up to
lr. So float32 compares losses and metrics to 1e-4 relative (5e-3 on the batch-norm image
nets, where such elements are common) and bounds parameter differences by a few Adam steps.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data.base import Dataset
from ganbench.models import MODELS
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import RunResult, train
from ganbench.train.vectorised import can_vectorise, train_vectorised
from ganbench.tricks import TRICKS

SEEDS = (0, 1, 2)
POINTS = dict(dataset="ring8", model="mlp", batch_size=32, steps=10, log_every=2,
              eval_every=5, eval_samples=256)
IMAGES = dict(dataset="tiny-images", model="dcgan28", batch_size=8, steps=4, log_every=1,
              eval_every=2)

# The test-only tricks test_nan_for_seed and test_unvectorised (helpers/stub_tricks.py),
# registered for each test.
pytestmark = pytest.mark.usefixtures("scoped_test_tricks")


def vectorisable_tricks() -> list[str]:
    return [n for n in TRICKS.names() if TRICKS.get(n).vectorisable]


def context_for(name: str) -> dict:
    """ring8/mlp when the trick validates there (fast), else tiny images on dcgan28."""
    for ctx in (POINTS, IMAGES):
        try:
            validate(RunConfig(tricks={name: {}}, **{k: ctx[k] for k in ("dataset", "model")}))
        except ValueError:
            continue
        return ctx
    raise AssertionError(f"{name} validates in no test context")


def cfgs_of(tmp_path, seeds=SEEDS, **overrides) -> list[RunConfig]:
    base = {**POINTS, "device": "cpu", "data_root": tmp_path, **overrides}
    return [validate(RunConfig(**base, seed=s)) for s in seeds]


@dataclass(frozen=True)
class Tol:
    rel: float  # losses and metrics, relative (with an absolute floor of rel / 100)
    rtol: float  # parameters and buffers: "equal" within atol + rtol * |x| ...
    atol: float
    outliers: float  # ... for all but this fraction of elements ...
    worst: float  # ... and none further apart than this (float32: 10 Adam steps of 2e-4)


FLOAT64 = Tol(rel=1e-9, rtol=1e-9, atol=1e-10, outliers=0.0, worst=1e-9)
# float32: a rounding difference amplified once spreads to the elements it feeds, so only
# the size of parameter differences is bounded, not how many elements differ.
FLOAT32 = Tol(rel=1e-4, rtol=0.0, atol=0.0, outliers=1.0, worst=2e-3)
FLOAT32_BN = Tol(rel=5e-3, rtol=0.0, atol=0.0, outliers=1.0, worst=2e-3)


@contextmanager
def default_dtype(dtype: torch.dtype):
    """Run under `dtype` (models, noise and data; images are sampled as float32 otherwise)."""
    old, sample = torch.get_default_dtype(), Dataset.sample
    torch.set_default_dtype(dtype)
    Dataset.sample = lambda self, n, generator=None: sample(self, n, generator).to(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)
        Dataset.sample = sample


def tolerance(dtype: torch.dtype, cfg: RunConfig) -> Tol:
    if dtype == torch.float64:
        return FLOAT64
    # Batch norm in G (and D): dcgan*, the SNGAN ResNets, SN-DCGAN.
    return FLOAT32_BN if cfg.model.startswith(("dcgan", "sngan", "sndcgan", "resnet")) else FLOAT32


def history(tracker: MemoryTracker) -> list[tuple[int, str, float]]:
    return [m for m in tracker.metrics if not m[1].startswith("perf/")]


def assert_same_history(alone: MemoryTracker, stacked: MemoryTracker, tol: Tol) -> None:
    a, b = history(alone), history(stacked)
    assert [(s, k) for s, k, _ in a] == [(s, k) for s, k, _ in b]
    for (step, key, x), (_, _, y) in zip(a, b, strict=True):
        assert y == pytest.approx(x, rel=tol.rel, abs=tol.rel / 100, nan_ok=True), (step, key)
    assert [k for _, k, _ in alone.metrics] == [k for _, k, _ in stacked.metrics]


def assert_close_state(alone: nn.Module, stacked: nn.Module, tol: Tol) -> None:
    sa, sb = alone.state_dict(), stacked.state_dict()
    assert list(sa) == list(sb)
    diff = torch.cat([(sa[k].double() - sb[k].double()).abs().flatten() for k in sa])
    size = torch.cat([sa[k].double().abs().flatten() for k in sa])
    apart = diff > tol.atol + tol.rtol * size
    assert apart.double().mean() <= tol.outliers, f"{int(apart.sum())} of {len(diff)} differ"
    assert diff.max() <= tol.worst


def assert_same_result(a: RunResult, b: RunResult, tol: Tol) -> None:
    assert (b.status, b.steps_done, b.diverged_step, b.diverged_term) == (
        a.status, a.steps_done, a.diverged_step, a.diverged_term)
    assert b.metrics == pytest.approx(a.metrics, rel=tol.rel, abs=tol.rel / 100, nan_ok=True)
    assert b.cfg == a.cfg
    assert_close_state(a.g, b.g, tol)
    assert_close_state(a.d, b.d, tol)


def run_both(cfgs: list[RunConfig]) -> tuple[list, list]:
    """[(result, tracker)] of the lone runs and of the vectorised run."""
    alone = [(train(c, t), t) for c, t in ((c, MemoryTracker()) for c in cfgs)]
    trackers = [MemoryTracker() for _ in cfgs]
    stacked = list(zip(train_vectorised(cfgs, trackers), trackers, strict=True))
    return alone, stacked


def check_equal(cfgs: list[RunConfig], dtype: torch.dtype = torch.float32) -> list[RunResult]:
    with default_dtype(dtype):
        alone, stacked = run_both(cfgs)
    tol = tolerance(dtype, cfgs[0])
    for (ra, ta), (rb, tb) in zip(alone, stacked, strict=True):
        assert_same_history(ta, tb, tol)
        assert_same_result(ra, rb, tol)
        assert tb.tags["vectorised_seeds"] == str(len(cfgs))
        assert {k: v for k, v in tb.tags.items() if k != "vectorised_seeds"} == ta.tags
    return [r for r, _ in stacked]


DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32],
                                 ids=["float64", "float32"])


# ------------------------------------------------------------------ equality with lone runs


@DTYPES
@pytest.mark.parametrize("trick", ["none", *vectorisable_tricks()])
def test_each_seed_matches_its_lone_run(tmp_path, trick, dtype):
    ctx = POINTS if trick == "none" else context_for(trick)
    tricks = {} if trick == "none" else {trick: {}}
    results = check_equal(cfgs_of(tmp_path, **ctx, tricks=tricks), dtype)
    assert all(r.status == "finished" for r in results)


BN_CASES = {
    "plain": {},
    # Per-seed buffers of every kind: BN statistics in G and D, spectral norm's power
    # iteration in both nets, EMA's copy, and R1 calling each seed's own D.
    "sn_r1_ema_mbstd": {"spectral_norm": {"on_g": True}, "r1": {}, "ema": {"decay": 0.9},
                        "minibatch_std": {}},
}


@DTYPES
@pytest.mark.parametrize("tricks", BN_CASES.values(), ids=BN_CASES.keys())
def test_batch_norm_images_match_lone_runs(tmp_path, tricks, dtype):
    check_equal(cfgs_of(tmp_path, **IMAGES, tricks=tricks), dtype)


def test_dcgan64_matches_lone_runs(tmp_path):
    # Transposed convolutions from 1x1 and batch norm in both nets, at 64x64.
    check_equal(cfgs_of(tmp_path, seeds=(0, 1), **{**IMAGES, "model": "dcgan64",
                                                   "batch_size": 4, "steps": 2}))


def test_other_settings_match(tmp_path):
    # Another loss, layer norm in D, several D steps per G step, evaluation only at the end.
    check_equal(cfgs_of(tmp_path, loss="hinge", d_norm="layer", eval_every=0, log_every=3,
                        tricks={"n_critic": {"steps": 2}, "ttur": {}}), torch.float64)
    # Group norm (dcgan's "layer" norm) in D.
    check_equal(cfgs_of(tmp_path, seeds=(0, 1), **{**IMAGES, "d_norm": "layer"}), torch.float64)


@DTYPES
def test_rpgan_matches_lone_runs(tmp_path, dtype):
    # rpgan's G step draws its own real batch from each seed's stream and sends it through
    # D's input path (instance noise's draws: each seed's global RNG); R3GAN's R1 + R2.
    check_equal(cfgs_of(tmp_path, loss="rpgan", tricks={"r1": {}, "r2": {},
                                                        "instance_noise": {}}), dtype)


# ------------------------------------------------------------------ divergence


def test_a_diverging_seed_stops_and_the_others_finish(tmp_path):
    cfgs = cfgs_of(tmp_path, tricks={"test_nan_for_seed": {"seeds": [1], "at": 6}})
    alone, stacked = run_both(cfgs)
    statuses = [r.status for r, _ in stacked]
    assert statuses == ["finished", "diverged", "finished"]
    bad, tracker = stacked[1]
    assert (bad.diverged_step, bad.diverged_term, bad.steps_done) == (6, "d/boom", 6)
    assert tracker.tags["status"] == "diverged" and tracker.tags["diverged_step"] == "6"
    for (ra, ta), (rb, tb) in zip(alone, stacked, strict=True):
        assert_same_history(ta, tb, FLOAT32)
        assert_same_result(ra, rb, FLOAT32)


def test_every_seed_diverging_at_its_own_step(tmp_path):
    cfgs = cfgs_of(tmp_path, tricks={"test_nan_for_seed": {"at": 1, "stagger": 3}})
    alone, stacked = run_both(cfgs)
    assert [r.diverged_step for r, _ in stacked] == [1, 4, 7]
    for (ra, ta), (rb, tb) in zip(alone, stacked, strict=True):
        assert_same_history(ta, tb, FLOAT32)
        assert_same_result(ra, rb, FLOAT32)


# ------------------------------------------------------------------ results and progress


def test_results_are_plain_independent_modules(tmp_path):
    results = train_vectorised(cfgs_of(tmp_path, steps=2, tricks={"ema": {}}))
    params = [p for r in results for p in [*r.g.parameters(), *r.d.parameters()]]
    assert all(p.is_leaf for p in params if p.requires_grad)
    storages = {p.untyped_storage().data_ptr() for p in params}
    assert len(storages) == len(params)  # no seed shares memory with another
    copy.deepcopy(results[0].d)
    x = torch.randn(4, 2)
    assert not torch.equal(results[0].d(x), results[1].d(x))


def test_progress_reports_every_seed_each_window(tmp_path):
    seen: list[tuple[int, int, bool]] = []
    train_vectorised(cfgs_of(tmp_path), progress=lambda i, p: seen.append(
        (i, p.step, p.metrics is not None)))
    steps = sorted({s for _, s, _ in seen})
    assert steps == [2, 4, 5, 6, 8, 10]
    assert sorted(seen) == sorted((i, s, s in (5, 10)) for i in range(3) for s in steps)


# ------------------------------------------------------------------ what is refused


def test_can_vectorise_says_why_not(tmp_path, monkeypatch):
    ok = cfgs_of(tmp_path, tricks={"ttur": {}, "r1": {}})[0]
    assert can_vectorise(ok) is None
    bad = cfgs_of(tmp_path, tricks={"ttur": {}, "test_unvectorised": {}})[0]
    assert "test_unvectorised" in can_vectorise(bad)
    # The spec decides, not a name list: an unstackable mlp is refused.
    monkeypatch.setitem(MODELS._items, "mlp", replace(MODELS.get("mlp"), stackable=False))
    assert "model 'mlp'" in can_vectorise(ok)


def test_mismatched_configs_are_refused(tmp_path):
    cfgs = cfgs_of(tmp_path)
    with pytest.raises(ValueError, match=r"differs .* in \['lr'\]"):
        train_vectorised([cfgs[0], cfgs[1].model_copy(update={"lr": 1e-3})])
    with pytest.raises(ValueError, match="distinct"):
        train_vectorised([cfgs[0], cfgs[0]])
    with pytest.raises(ValueError, match="trackers"):
        train_vectorised(cfgs, [MemoryTracker()])
    with pytest.raises(ValueError, match="test_unvectorised"):
        train_vectorised(cfgs_of(tmp_path, tricks={"test_unvectorised": {}}))
    with pytest.raises(ValueError, match="at least one"):
        train_vectorised([])


@DTYPES
def test_schedules_match_lone_runs(tmp_path, dtype):
    # The stacked optimisers' rate and Adam betas, and every seed's trick parameter, set
    # before each step.
    check_equal(cfgs_of(tmp_path, lr={"start": 1e-3, "end": 0.0},
                        betas=[{"start": 0.5, "end": 0.3}, {"start": 0.9, "end": 0.99}],
                        tricks={"r1": {"gamma": {"start": 10.0, "end": 1.0, "shape": "cosine"}},
                                "ttur": {}}), dtype)
