"""Density and coverage (Naeem et al. 2020, metrics/prdc.py), checked by simulation against
what the paper proves or what a scenario must do, never against recorded outputs of ours:
same distribution -> E[density] = 1 and E[coverage] = Lemma 2's value; a dropped mode costs
coverage its share; a collapse onto the modes' centres keeps density at or above 1 while
coverage falls; far outliers lower density by their share. Draws are seeded, and each
tolerance is several standard errors of the mean over the draws (measured when written)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.config import ConfigError, RunConfig
from ganbench.data.mog import load_grid25, load_ring8
from ganbench.metrics import METRICS, available_metrics, prdc
from ganbench.metrics.base import MetricSpec
from ganbench.metrics.prdc import (
    REAL_SEED,
    K,
    density_coverage,
    expected_coverage,
    real_radii,
)
from ganbench.specs.run import validate
from ganbench.train import train

RING = load_ring8(None)


def _mean_over_draws(draw, n_draws: int) -> tuple[float, float]:
    """Mean density and coverage over `n_draws` seeded draws of (real, fake)."""
    vals = [density_coverage(*draw(torch.Generator().manual_seed(s))) for s in range(n_draws)]
    return (sum(v.density for v in vals) / n_draws, sum(v.coverage for v in vals) / n_draws)


def _ring_without_mode_0(m: int, gen: torch.Generator) -> torch.Tensor:
    idx = torch.randint(1, 8, (m,), generator=gen)  # modes 1..7 only
    return RING.modes[idx] + RING.mode_std * torch.randn(m, 2, generator=gen)


# ------------------------------------------------------------------ the definition


def _by_definition(real: list, fake: list, k: int) -> tuple[float, float]:
    """The paper's sums written out, point by point."""
    radii = [sorted(math.dist(x, o) for j, o in enumerate(real) if j != i)[k - 1]
             for i, x in enumerate(real)]
    inside = [[math.dist(x, y) < r for x, r in zip(real, radii, strict=True)] for y in fake]
    density = sum(map(sum, inside)) / (k * len(fake))
    coverage = sum(any(row[i] for row in inside) for i in range(len(real))) / len(real)
    return density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_density_and_coverage_are_the_papers_sums(k):
    gen = torch.Generator().manual_seed(k)
    real, fake = torch.randn(40, 3, generator=gen), 1.3 * torch.randn(25, 3, generator=gen)
    want = _by_definition(real.tolist(), fake.tolist(), k)
    got = density_coverage(real, fake, k=k)
    assert got.density == pytest.approx(want[0], abs=1e-12)
    assert got.coverage == pytest.approx(want[1], abs=1e-12)


# ------------------------------------------------------------------ same distribution


@pytest.mark.parametrize("n, m", [(1000, 1000), (600, 300)])
def test_same_distribution_gives_density_one_and_lemma_2s_coverage(n, m):
    # ring8 itself; 20 draws: sd of a draw ~0.02 (density), ~0.009 (coverage).
    d, c = _mean_over_draws(lambda g: (RING.sample(n, g), RING.sample(m, g)), 20)
    assert d == pytest.approx(1.0, abs=0.03)
    assert c == pytest.approx(expected_coverage(n, m), abs=0.012)


def test_same_distribution_in_more_dimensions_and_another_k():
    # E[density] = 1 for any distribution, dimension and k; Lemma 2 likewise.
    vals = [density_coverage(torch.randn(500, 8, generator=g), torch.randn(500, 8, generator=g),
                             k=3) for g in (torch.Generator().manual_seed(s) for s in range(20))]
    assert sum(v.density for v in vals) / 20 == pytest.approx(1.0, abs=0.03)
    assert sum(v.coverage for v in vals) / 20 == pytest.approx(expected_coverage(500, 500, 3),
                                                               abs=0.012)


def test_lemma_2_tends_to_one_minus_two_to_the_minus_k():
    assert expected_coverage(10**7, 10**7, 5) == pytest.approx(1 - 2**-5, abs=1e-5)
    assert expected_coverage(2500, 2500) == pytest.approx(0.9688, abs=1e-4)
    assert expected_coverage(100, 10**9, 5) == pytest.approx(1.0)


# ------------------------------------------------------------------ failures they must see


def test_a_dropped_mode_costs_coverage_its_share_and_density_nothing():
    n = m = 1200
    full = _mean_over_draws(lambda g: (RING.sample(n, g), RING.sample(m, g)), 10)
    dropped = _mean_over_draws(lambda g: (RING.sample(n, g), _ring_without_mode_0(m, g)), 10)
    # The 7 modes left each get m/7 fake points against n/8 real ones (Lemma 2 per mode).
    assert dropped[1] == pytest.approx(7 / 8 * expected_coverage(n // 8, m // 7), abs=0.015)
    assert full[1] - dropped[1] == pytest.approx(1 / 8, abs=0.02)
    assert dropped[0] == pytest.approx(1.0, abs=0.05)  # every fake point is still realistic


def test_a_dropped_mode_leaves_its_real_points_uncovered():
    gen = torch.Generator().manual_seed(0)
    real, fake = RING.sample(800, gen), _ring_without_mode_0(800, gen)
    in_mode_0 = torch.cdist(real, RING.modes).argmin(dim=1) == 0
    covered_elsewhere = density_coverage(real[~in_mode_0], fake).coverage
    assert density_coverage(real[in_mode_0], fake).coverage == 0.0
    assert covered_elsewhere > 0.9


@pytest.mark.parametrize("dim, n, density_above, coverage_below", [
    (2, 400, 1.05, 0.2),  # ring8: ~1.17 and ~0.12 (sd of the 40-draw mean ~0.02)
    (8, 1000, 3.0, 0.25),  # 8 modes in 8-D: the centres are hubs, ~3.9 and ~0.16
])
def test_collapse_onto_the_mode_centres_keeps_density_above_one_as_coverage_falls(
        dim, n, density_above, coverage_below):
    modes = RING.modes if dim == 2 else 100 * torch.eye(8)
    std = RING.mode_std if dim == 2 else 1.0

    def draw(g):
        real = modes[torch.randint(8, (n,), generator=g)] + std * torch.randn(n, dim, generator=g)
        return real, modes.repeat(n // 8, 1)  # m = n fake points, on 8 distinct places

    d, c = _mean_over_draws(draw, 40 if dim == 2 else 10)
    assert d > density_above
    assert c < coverage_below < expected_coverage(n, n) - 0.7


def test_far_outliers_lower_density_by_their_share_and_coverage_by_fewer_inliers():
    n, m = 1200, 1200

    def draw(g):
        fake = RING.sample(m, g)
        fake[: m // 2] = torch.tensor([5.0, 5.0]) + 0.01 * torch.randn(m // 2, 2, generator=g)
        return RING.sample(n, g), fake

    d, c = _mean_over_draws(draw, 10)
    assert d == pytest.approx(0.5, abs=0.03)  # half the fake points are in no real ball
    assert c == pytest.approx(expected_coverage(n, m // 2), abs=0.02)


def test_points_that_are_not_finite_lie_in_no_ball():
    gen = torch.Generator().manual_seed(1)
    real, fake = RING.sample(500, gen), RING.sample(500, gen)
    far, broken = fake.clone(), fake.clone()
    far[:100] = 1e6
    broken[:50], broken[50:100] = math.nan, math.inf
    assert density_coverage(real, broken) == density_coverage(real, far)
    assert density_coverage(real, torch.full((10, 2), math.nan)) == (0.0, 0.0)


# ------------------------------------------------------------------ blocks, inputs, k


def test_blocked_results_equal_the_unblocked_ones_exactly(monkeypatch):
    gen = torch.Generator().manual_seed(2)
    real, fake = torch.randn(300, 16, generator=gen), torch.randn(200, 16, generator=gen)
    whole = density_coverage(real, fake, chunk=10**6)
    radii = real_radii(real, chunk=10**6)
    for chunk in (1, 7, 64, None):
        assert density_coverage(real, fake, chunk=chunk) == whole
        assert torch.equal(real_radii(real, chunk=chunk), radii)
    monkeypatch.setattr(prdc, "BLOCK", 500)  # the default block: one or two rows at a time
    assert density_coverage(real, fake) == whole
    assert density_coverage(real.numpy(), fake.numpy()) == whole  # numpy in, same numbers
    assert density_coverage(real, fake, radii=radii) == whole


def test_distances_are_computed_in_bounded_blocks(monkeypatch):
    seen = []
    cdist = torch.cdist
    monkeypatch.setattr(torch, "cdist", lambda a, b, **kw: seen.append(len(a) * len(b))
                        or cdist(a, b, **kw))
    gen = torch.Generator().manual_seed(3)
    real, fake = RING.sample(4000, gen), RING.sample(3000, gen)
    monkeypatch.setattr(prdc, "BLOCK", 2**20)
    density_coverage(real, fake)
    # at most BLOCK distances at once (10k x 10k at the default 2**23: 64 MiB, not 800 MB)
    assert max(seen) <= 2**20 < 4000 * 3000 and sum(seen) == 4000**2 + 3000 * 4000


@pytest.mark.parametrize("k, match", [
    (0, "k must be a whole number >= 1"), (-1, "k must be a whole number >= 1"),
    (2.5, "k must be a whole number >= 1"), (True, "k must be a whole number >= 1"),
    ("5", "k must be a whole number >= 1"), (10, "needs more than k real samples"),
])
def test_k_is_checked_with_a_clear_message(k, match):
    x = torch.randn(10, 2)
    with pytest.raises(ValueError, match=match):
        density_coverage(x, x, k=k)


def test_bad_inputs_are_refused_with_a_clear_message():
    x = torch.randn(20, 2)
    with pytest.raises(ValueError, match="differ in size"):
        density_coverage(x, torch.randn(5, 3))
    with pytest.raises(ValueError, match="must be a 2-D array"):
        density_coverage(x[:, 0], x)
    with pytest.raises(ValueError, match="no fake samples"):
        density_coverage(x, x[:0])
    with pytest.raises(ValueError, match="real features contain NaN"):
        density_coverage(torch.cat([x, torch.full((1, 2), math.nan)]), x)
    with pytest.raises(ValueError, match="chunk must be"):
        density_coverage(x, x, chunk=0)
    with pytest.raises(ValueError, match="one entry per real sample"):
        density_coverage(x, x, radii=torch.ones(3))
    assert K == 5


# ------------------------------------------------------------------ the registered metrics


def test_density_and_coverage_are_2d_metrics_computed_on_request():
    asked = RunConfig(dataset="grid25", extra_metrics=["density", "coverage"])
    for name in ("density", "coverage"):
        spec = METRICS.get(name)
        assert (spec.goal, spec.data_kind, spec.low, spec.compute is not None,
                spec.on_request) == ("max", "points", 0, True, True)
        assert name not in available_metrics("points")  # a run that does not ask
        assert name not in available_metrics("points", RunConfig(dataset="grid25"))
        assert available_metrics("points", asked)[name] == "max"
        assert name not in available_metrics("points", RunConfig(dataset="dirac"))
    assert METRICS.get("coverage").high == 1 and METRICS.get("density").high is None


@pytest.mark.parametrize("load", [load_ring8, load_grid25])
def test_the_registered_metrics_score_against_a_fixed_seeded_real_draw(load):
    data = load(None)
    samples = data.sample(500, torch.Generator().manual_seed(9))
    density, coverage = METRICS.get("density").compute, METRICS.get("coverage").compute
    real = data.sample(500, torch.Generator().manual_seed(REAL_SEED))
    want = density_coverage(real, samples)
    assert (density(samples, data), coverage(samples, data)) == want
    assert (density(samples.clone(), load(None)), coverage(samples.clone(), data)) == want
    samples[:250] = 50.0  # changed in place: scored afresh, not taken from the last call
    assert density(samples, data) < want.density
    assert 0.9 < want.coverage < 1.0 and 0.9 < want.density < 1.1  # G = the data itself


def test_a_2d_run_logs_density_and_coverage_when_it_asks_and_only_then():
    cfg = dict(dataset="ring8", model="mlp", batch_size=32, steps=4, log_every=2,
               eval_every=2, eval_samples=300, device="cpu")
    result = train(validate(RunConfig(**cfg, extra_metrics=["coverage", "density"])))
    assert 0 <= result.metrics["coverage"] <= 1 and result.metrics["density"] >= 0
    assert np.isfinite([result.metrics["density"], result.metrics["coverage"]]).all()
    plain = train(validate(RunConfig(**cfg)))
    assert "density" not in plain.metrics and "coverage" not in plain.metrics
    # asking changes nothing else: the same seed trains the same G
    for name in ("modes", "hq", "reverse_kl"):
        np.testing.assert_equal(plain.metrics[name], result.metrics[name])
    assert all(torch.equal(a, b) for a, b in zip(plain.g.state_dict().values(),
                                                 result.g.state_dict().values(), strict=True))


def test_extra_metrics_are_checked_with_the_field_and_a_suggestion():
    with pytest.raises(ConfigError, match=r"extra_metrics: 'coverge'.*did you mean 'coverage'"):
        validate(RunConfig(dataset="ring8", extra_metrics=["coverge"]))
    with pytest.raises(ConfigError, match=r"extra_metrics: 'modes' is computed at every "
                                          r"evaluation already"):
        validate(RunConfig(dataset="ring8", extra_metrics=["modes"]))
    with pytest.raises(ConfigError, match=r"not a metric computed on request for images"):
        validate(RunConfig(dataset="mnist", model="dcgan28", extra_metrics=["coverage"]))


def test_a_sweep_ranked_by_coverage_must_ask_for_it():
    from ganbench.config import SweepSpec
    from ganbench.specs.plan import PlanError, plan

    spec = {"name": "dc", "base": {"dataset": "ring8", "steps": 4}, "seeds": 1,
            "tricks": {"ttur": ["off", "on"]}, "metric": {"name": "coverage", "goal": "max"}}
    with pytest.raises(PlanError, match=r"add extra_metrics: \[coverage\] to base"):
        plan(SweepSpec.model_validate(spec))
    spec["base"]["extra_metrics"] = ["coverage"]
    assert len(plan(SweepSpec.model_validate(spec)).cells) == 2


def test_a_metric_without_code_cannot_be_computed_on_request():
    with pytest.raises(ValueError, match="only a metric with compute"):
        MetricSpec("nothing", "max", "points", on_request=True)
