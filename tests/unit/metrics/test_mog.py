"""2-D mixtures (ring8, grid25) and their exact mode metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganbench.data import DATASETS
from ganbench.data.mog import grid_modes, ring_modes
from ganbench.metrics import mode_metrics
from ganbench.metrics.mog import HQ_MIN, gate_modes


def load(name: str):
    return DATASETS.get(name)(Path("/nonexistent"))  # synthetic: the root is never read


def test_ring8_modes_are_on_the_unit_circle_at_2pi_i_over_8():
    ds = load("ring8")
    assert ds.kind == "points" and ds.shape == (2,) and ds.source == "synthetic"
    assert ds.mode_std == 0.01
    expected = torch.tensor([[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)]
                             for i in range(8)])
    assert ds.modes.shape == (8, 2)
    torch.testing.assert_close(ds.modes, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(ds.modes.norm(dim=1), torch.ones(8), atol=1e-6, rtol=0)


def test_grid25_modes_are_the_5x5_even_grid():
    ds = load("grid25")
    assert ds.kind == "points" and ds.mode_std == 0.05
    got = {tuple(p) for p in ds.modes.tolist()}
    expected = {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert ds.modes.shape == (25, 2) and got == expected


def test_mode_helpers_match_the_datasets():
    assert torch.equal(ring_modes(), load("ring8").modes)
    assert torch.equal(grid_modes(), load("grid25").modes)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_have_the_specified_spread(name):
    ds = load(name)
    torch.manual_seed(0)
    x = ds.sample(20_000)
    assert x.shape == (20_000, 2) and x.dtype == torch.float32
    d2 = torch.cdist(x, ds.modes).min(dim=1).values.square()
    # For an isotropic 2-D Gaussian E||x - mu||^2 = 2 std^2.
    assert d2.mean().sqrt().item() == pytest.approx(math.sqrt(2) * ds.mode_std, rel=0.03)
    # Every mode gets roughly 1/K of the samples.
    counts = torch.bincount(torch.cdist(x, ds.modes).argmin(dim=1), minlength=len(ds.modes))
    k = len(ds.modes)
    assert counts.min().item() > 0.8 * 20_000 / k and counts.max().item() < 1.2 * 20_000 / k


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_real_samples_score_as_perfect(name):
    ds = load(name)
    torch.manual_seed(1)
    m = mode_metrics(ds.sample(2500), ds.modes, ds.mode_std)
    assert set(m) == {"modes", "modes_hq", "hq", "reverse_kl", "mode_score"}
    assert m["modes"] == m["modes_hq"] == len(ds.modes)
    assert m["hq"] >= 0.98
    assert 0.0 <= m["reverse_kl"] < 0.05


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_collapse_to_one_mode(name):
    ds = load(name)
    k = len(ds.modes)
    at_mode = ds.modes[3].expand(500, 2).clone()
    m = mode_metrics(at_mode, ds.modes, ds.mode_std)
    assert m["modes"] == 1
    assert m["hq"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(k), abs=1e-9)


def test_half_the_modes_exactly():
    ds = load("ring8")
    x = ds.modes[::2].repeat(10, 1)  # modes 0, 2, 4, 6 equally often
    m = mode_metrics(x, ds.modes, ds.mode_std)
    assert m["modes"] == 4 and m["hq"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(2), abs=1e-9)


def test_three_std_threshold():
    ds = load("ring8")
    mode, std = ds.modes[0], ds.mode_std
    inside = (mode + torch.tensor([2.9 * std, 0.0])).unsqueeze(0)
    outside = (mode + torch.tensor([3.1 * std, 0.0])).unsqueeze(0)
    assert mode_metrics(inside, ds.modes, std)["hq"] == 1.0
    assert mode_metrics(outside, ds.modes, std)["hq"] == 0.0
    m = mode_metrics(torch.cat([inside, outside]), ds.modes, std)
    assert m["hq"] == 0.5 and m["modes"] == 1


def test_far_samples_score_zero_and_nan_kl():
    ds = load("grid25")
    far = torch.full((100, 2), 50.0)
    m = mode_metrics(far, ds.modes, ds.mode_std)
    assert m["modes"] == 0
    assert m["hq"] == 0.0
    assert math.isnan(m["reverse_kl"])


def test_uniform_noise_covers_most_grid25_modes_but_scores_zero_quality_modes():
    # The audit: a uniform cloud over the grid's square covers ~22 of 25 modes with ~2%
    # high-quality samples, so `modes` alone ranks noise near the top; `modes_hq` does not.
    ds = load("grid25")
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(2500, 2, generator=gen) * 10 - 5  # uniform over [-5, 5]^2
    m = mode_metrics(noise, ds.modes, ds.mode_std)
    assert m["modes"] >= 20 and m["hq"] < 0.05
    assert m["modes_hq"] == 0


def test_modes_hq_counts_modes_only_from_the_hq_threshold():
    ds = load("ring8")
    good = ds.modes.repeat(10, 1)  # 80 samples on the 8 modes
    far = torch.full((1, 2), 50.0)
    assert HQ_MIN == 0.5
    at = mode_metrics(torch.cat([good, far.expand(80, 2)]), ds.modes, ds.mode_std)
    below = mode_metrics(torch.cat([good, far.expand(81, 2)]), ds.modes, ds.mode_std)
    assert (at["hq"], at["modes"], at["modes_hq"]) == (0.5, 8, 8)
    assert below["hq"] < 0.5 and (below["modes"], below["modes_hq"]) == (8, 0)
    assert gate_modes(8, 0.5) == 8 and gate_modes(8, 0.49) == 0


def test_metrics_accept_grad_carrying_samples():
    ds = load("ring8")
    x = ds.modes.clone().requires_grad_(True)
    assert mode_metrics(x * 1.0, ds.modes, ds.mode_std)["modes"] == 8


coords = st.floats(min_value=-6.0, max_value=6.0, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["ring8", "grid25"]),
    points=st.lists(st.tuples(coords, coords), min_size=1, max_size=60),
    snap=st.lists(st.integers(0, 24), max_size=20),
)
def test_metric_bounds_property(name, points, snap):
    ds = load(name)
    k = len(ds.modes)
    # Mix arbitrary points with some exactly at modes, so both regimes are exercised.
    at_modes = ds.modes[[i % k for i in snap]] if snap else torch.empty(0, 2)
    x = torch.cat([torch.tensor(points, dtype=torch.float32), at_modes])
    m = mode_metrics(x, ds.modes, ds.mode_std)
    assert isinstance(m["modes"], int) and 0 <= m["modes"] <= k
    assert m["modes_hq"] == (m["modes"] if m["hq"] >= HQ_MIN else 0)
    assert 0.0 <= m["hq"] <= 1.0
    if m["hq"] == 0.0:
        assert m["modes"] == 0 and math.isnan(m["reverse_kl"])
    else:
        assert m["modes"] >= 1
        assert -1e-9 <= m["reverse_kl"] <= math.log(k) + 1e-9
    if snap:
        assert m["modes"] >= len({i % k for i in snap})
