"""Sequential seeds (report/sequential.py), tested by simulation: the level holds exactly given
the data's absolute differences, the family-wise error of the recycled Holm stays within α
under nulls and partial nulls (normal and bounded integer metrics), a planted effect is found
with fewer seeds on average than the fixed design of the same power, and the bookkeeping
asks for seeds only where a comparison is still open."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.report.inference import sign_flip_p, sign_vectors
from ganbench.report.sequential import Rule, crossing, decide, rows_state, targets

ALPHA = 0.05


@pytest.mark.parametrize("rho", [1.0, 3.0])
@pytest.mark.parametrize("kind", ["normal", "integer"])
def test_the_level_holds_exactly_over_every_sign_vector(rho, kind):
    # Under the null every sign vector of the same |d| is equally likely: the share of them
    # that cross at any look is the exact conditional error, whatever the |d|.
    rng = np.random.default_rng(3)
    rule = Rule(3, 10, 1, rho)
    signs = sign_vectors(10)
    for _ in range(4):
        a = np.abs(rng.normal(size=10))
        if kind == "integer":  # ties and zeros, as a mode count has
            a = np.round(2 * a)
        rejected = (crossing(signs * a[None, :], rule, ALPHA) >= 0).mean()
        assert rejected <= ALPHA + 1e-12


def test_a_path_that_stays_positive_is_decided_at_the_first_look_that_allows_it():
    # All-positive distinct differences: the observed path is the most extreme at every
    # look. With rho 1 the spend by n = 7 of 12 is 0.029 ≥ 2/128, the smallest p 7 seeds
    # allow; by n = 6 it is 0.025 < 2/64: 7 is the first look that can decide.
    rule = Rule(3, 12, 1, 1.0)
    d = np.arange(1.0, 13.0)
    li = int(crossing(d[None, :], rule, ALPHA)[0])
    assert rule.looks[li] == 7
    # the fixed test at the same n rejects as well; the sequential test never earlier
    assert sign_flip_p(d[:6]) <= ALPHA


def _holm_fwer(effects, make, rule, reps, rng):
    """Share of simulated sweeps in which any null row (effect 0) is decided."""
    bad = 0
    for _ in range(reps):
        diffs = [make(e, rule.max, rng) for e in effects]
        got = decide(diffs, rule)
        bad += any(at is not None and e == 0 for at, e in zip(got, effects, strict=True))
    return bad / reps


def _normal(e, n, rng):
    return rng.normal(e, 1.0, n)


def _modes(e, n, rng):
    # Two cells of a bounded integer metric (0..8, mass at the ceiling); the treated cell
    # gains e modes on average. Paired differences have many exact zeros.
    ref = np.minimum(8, rng.poisson(6.5, n))
    trt = np.minimum(8, rng.poisson(6.5 + e, n))
    return (trt - ref).astype(float)


@pytest.mark.parametrize("make", [_normal, _modes], ids=["normal", "bounded-integer"])
@pytest.mark.parametrize("effects", [(0, 0, 0), (3, 0, 0)], ids=["null", "partial-null"])
def test_family_wise_error_stays_within_alpha(make, effects):
    rng = np.random.default_rng(11)
    reps = 400
    fwer = _holm_fwer(effects, make, Rule(3, 8, 1, 1.0), reps, rng)
    # nominal 0.05; three binomial standard errors of slack for the simulation
    assert fwer <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps)


def test_a_planted_effect_needs_fewer_seeds_than_the_fixed_design_of_equal_power():
    rng = np.random.default_rng(5)
    rule = Rule(3, 12, 1, 1.0)
    reps = 800
    d = rng.normal(1.5, 1.0, (reps, rule.max))
    first = crossing(d, rule, ALPHA)
    looks = np.array(rule.looks)
    seeds = np.where(first >= 0, looks[np.maximum(first, 0)], rule.max)
    power = (first >= 0).mean()
    assert power > 0.9
    # the smallest fixed design with at least the sequential design's power
    fixed = next(n for n in range(3, rule.max + 1) if (sign_flip_p(d[:, :n]) <= ALPHA).mean()
                 >= power)
    assert seeds.mean() < fixed - 0.5, (seeds.mean(), fixed, power)


def test_holm_recycling_decides_a_second_effect_a_lone_bonferroni_level_misses():
    # Two clear effects: the first decided at alpha/2 raises the second's level to alpha.
    rule = Rule(3, 8, 1, 1.0)
    big = np.arange(1.0, 9.0)
    at = decide([big, big], rule)
    assert all(a is not None for a in at)


def test_bookkeeping_asks_seeds_only_for_open_rows():
    rule = Rule(3, 7, 1, 1.0)
    # decided at 7: Holm's first level is α/2, and only by 7 seeds does its spend (0.025)
    # reach the smallest p (2/128)
    decided_d = np.arange(1.0, 8.0)
    null_d = np.array([1.0, -1.0, 0.5])
    rows = rows_state([("base", "A", "+A", decided_d, 0), ("base", "B", "+B", null_d, 1)],
                      rule)
    a, b = rows
    assert a.state == "decided" and a.decided_at == 7 and a.next_n == 0
    assert b.state == "open" and b.next_n == 4
    want = targets(rows, ["base", "A", "B", "AB"], rule)
    # B wants 4 values and has one failed seed to make up; A stays where it was decided
    assert want == {"base": 7, "A": 7, "B": 5, "AB": 3}
    at_max = rows_state([("base", "B", "+B", np.array([1.0, -1, 1, -1, 1, -1, 1]), 0)],
                        rule)[0]
    assert at_max.state == "open at max" and at_max.next_n == 0


def test_rules_looks_and_spend():
    rule = Rule(3, 12, 4, 2.0)
    assert rule.looks == [3, 7, 11, 12]
    assert rule.spend(12) == pytest.approx(ALPHA)
    assert rule.spend(6) == pytest.approx(ALPHA / 4)
