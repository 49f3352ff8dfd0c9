"""The report's interval and test, checked by simulation (seeded, vectorised with numpy).

- t_interval: coverage of the 95% Student-t interval of a mean at the seed counts users run.
- sign_flip_p: the paired permutation test is monotone in the evidence and keeps its level
  on null data with integer ties.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ganbench.report.notes import table_note
from ganbench.report.stats import (
    MC_FLIPS,
    min_p,
    paired_delta,
    seeds_needed,
    sign_flip_p,
    t_interval,
)

R = 20_000  # replications: the standard error of a 95% coverage is 0.15 points


def coverage(draw, mean: float, n: int, seed: int) -> float:
    x = draw(np.random.default_rng(seed), (R, n))
    lo, hi = t_interval(x)
    return float(np.mean((lo <= mean) & (mean <= hi)))


@pytest.mark.parametrize("n", [3, 5, 10])
def test_t_interval_covers_95_percent_on_normal_data(n):
    cov = coverage(lambda g, s: g.normal(3.0, 2.0, s), 3.0, n, seed=n)
    assert abs(cov - 0.95) <= 0.02, cov


# Moderately skewed data, the kind seed-to-seed metric noise looks like: gamma(10)
# (skewness 0.63), lognormal(0, 0.25) (skewness 0.78) and integer Poisson(3) counts with ties.
MODERATE = {
    "gamma10": (lambda g, s: g.gamma(10.0, 1.0, s), 10.0),
    "lognormal0.25": (lambda g, s: g.lognormal(0.0, 0.25, s), math.exp(0.25 ** 2 / 2)),
    "poisson3": (lambda g, s: g.poisson(3.0, s).astype(float), 3.0),
}


@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("name", sorted(MODERATE))
def test_t_interval_covers_within_2_points_on_moderately_skewed_data(name, n):
    draw, mean = MODERATE[name]
    cov = coverage(draw, mean, n, seed=100 + n)
    assert abs(cov - 0.95) <= 0.02, (name, n, cov)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_t_interval_undercovers_strongly_skewed_data_as_the_readme_says(n):
    # Exponential data (skewness 2): the t interval covers about 88-90%, not 95%. The README
    # states this limitation; this test pins the numbers it quotes.
    cov = coverage(lambda g, s: g.exponential(1.0, s), 1.0, n, seed=200 + n)
    assert 0.86 <= cov <= 0.92, cov


def test_a_bootstrap_would_not_do_at_three_seeds():
    # Why the report has no bootstrap interval: every resampled mean of 3 values lies in
    # [min, max], and that range covers the mean of normal data only 1 - 2/4 = 75% of the time.
    x = np.random.default_rng(7).normal(size=(R, 3))
    cov = np.mean((x.min(axis=1) <= 0) & (0 <= x.max(axis=1)))
    assert cov == pytest.approx(0.75, abs=0.01)


# ------------------------------------------------------------------ the sign-flip test


def test_the_three_audited_difference_sets_are_no_longer_inconsistent():
    # Old rule: [-6,-6,-6] p 0.25 (exact), [-5,-6,-7] p 0.009 and [-6,-6,-6.0001] p 3e-11 (t).
    ps = [sign_flip_p(d) for d in ([-6, -6, -6], [-5, -6, -7], [-6, -6, -6.0001])]
    assert ps == [pytest.approx(0.25)] * 3 == [pytest.approx(min_p(3))] * 3


@pytest.mark.parametrize("n", range(2, 11))
def test_identical_differences_get_the_smallest_p_n_allows(n):
    assert sign_flip_p(np.full(n, -3.0)) == pytest.approx(min_p(n)) == pytest.approx(2.0 ** (1 - n))
    assert sign_flip_p(np.zeros(n)) == 1.0


def test_p_never_rises_as_the_effect_grows():
    # Every difference moved further in the direction of their mean: p cannot rise.
    rng = np.random.default_rng(11)
    for n in (3, 5, 8, 12):
        base = rng.normal(0, 1, size=(200, n)).round(1)  # ties included
        base *= np.where(base.sum(axis=1, keepdims=True) < 0, -1, 1)
        prev = np.ones(200)
        for shift in np.linspace(0, 4, 21):
            p = sign_flip_p(base + shift)
            assert (p <= prev + 1e-12).all(), (n, shift)
            prev = p
        assert (prev == pytest.approx(min_p(n))), n  # far enough out: the floor


def test_p_matches_scipys_paired_permutation_test():
    d = np.array([1.5, -0.5, 2.0, 0.0, 3.0, 3.0, -1.0])
    ref = sps.permutation_test((d,), np.mean, permutation_type="samples",
                               alternative="two-sided", n_resamples=np.inf).pvalue
    assert sign_flip_p(d) == pytest.approx(ref)


@pytest.mark.parametrize("n", [6, 8, 10, 12])
def test_false_positive_rate_at_most_alpha_on_null_integer_data(n):
    # Differences of two Poisson(2) counts per seed: integers, many ties and zeros.
    g = np.random.default_rng(300 + n)
    reps = 4000
    d = g.poisson(2.0, (reps, n)) - g.poisson(2.0, (reps, n))
    rate = np.mean(sign_flip_p(d) <= 0.05)
    assert rate <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / reps), rate


def test_monte_carlo_above_16_pairs_is_seeded_and_keeps_its_level():
    g = np.random.default_rng(5)
    d = (g.poisson(2.0, (400, 20)) - g.poisson(2.0, (400, 20))).astype(float)
    p = sign_flip_p(d)
    assert (p == sign_flip_p(d)).all()  # a fixed seed: the same p every time
    assert p.min() >= 1 / MC_FLIPS and np.mean(p <= 0.05) <= 0.05 + 2.5 * math.sqrt(
        0.05 * 0.95 / 400)


def test_the_table_note_says_when_no_row_can_be_significant():
    rows = pd.DataFrame([paired_delta(pd.Series([1.0, 2.0, 3.0]), pd.Series([4.0, 6.0, 5.0]))
                         for _ in range(4)])
    note = table_note({"baseline + X": rows})
    assert "exact paired permutation (sign-flip) test" in note and "95% CI of mean Δ" in note
    assert ("With 3 paired seeds with a nonzero difference the smallest attainable p is 0.25"
            in note)
    assert "no row can reach 0.05" in note and f"at least {seeds_needed(4)} such seeds" in note
    # Zero differences add no evidence: 8 pairs with 2 zeros reach 2^-5, not 2^-7.
    zeros = pd.DataFrame([paired_delta(pd.Series(np.zeros(8)),
                                       pd.Series([0.0, 0.0, 1, 2, 1, 3, 1, 2]))])
    assert zeros.loc[0, "p_min"] == 2 ** -5 and zeros.loc[0, "n_zero"] == 2
    note = table_note({"t": pd.concat([zeros, zeros], ignore_index=True)})  # 2 x 2^-5 > 0.05
    assert "(pairs with a zero difference add no evidence" in note
    assert seeds_needed(4) == 8 and seeds_needed(1) == 6  # 4 * 2^-7 = 0.031; 2^-5 = 0.031
    many = pd.DataFrame([paired_delta(pd.Series(range(10), dtype=float),
                                      pd.Series(range(10), dtype=float) + 1)])
    assert "smallest attainable" not in table_note({"t": many})
