"""The best-so-far (expected maximum) curve, checked against its exact distribution, and the
budget from which a ranking is stable, on constructed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ganbench.report.tuning import analyse, best_so_far, stable_from


def exact_median_of_max(n: int, b: int) -> float:
    """Values 1..n, the max of the first b of a random order: P(max <= k) = C(k,b)/C(n,b)."""
    for k in range(b, n + 1):
        if math.comb(k, b) / math.comb(n, b) >= 0.5:
            return float(k)
    return float(n)


@pytest.mark.parametrize("n", [5, 12])
def test_median_matches_the_exact_distribution(n):
    c = best_so_far([float(v) for v in range(1, n + 1)], "max", orderings=4000, seed=1)
    for b in range(1, n + 1):
        want = exact_median_of_max(n, b)
        assert abs(c["median"].iloc[b - 1] - want) <= 1.0, (b, c["median"].iloc[b - 1], want)
    assert c["median"].iloc[-1] == n and c["low"].iloc[-1] == n  # every trial: the best
    assert (np.diff(c["median"]) >= 0).all()


def test_band_covers_its_nominal_share():
    """10th-90th percentile of the best of b: by simulation over fresh draws."""
    rng = np.random.default_rng(0)
    vals = list(rng.normal(size=20))
    c = best_so_far(vals, "max", orderings=3000, seed=2)
    b = 4
    draws = [max(rng.choice(vals, size=b, replace=False)) for _ in range(4000)]
    inside = np.mean([(c["low"].iloc[b - 1] <= d <= c["high"].iloc[b - 1]) for d in draws])
    assert 0.75 <= inside <= 0.95


def test_minimising_and_failed_trials():
    c = best_so_far([None, 3.0, None, 1.0], "min", orderings=2000)
    assert c["median"].iloc[-1] == 1.0 and c["high"].iloc[-1] == 1.0
    assert c["median"].iloc[2] in (1.0, 3.0)
    # a failed trial adds no value: with 3 of 4 trials failed, B=1 has no median
    c = best_so_far([None, None, None, 2.0], "min", orderings=2000)
    assert math.isnan(c["median"].iloc[0]) and c["median"].iloc[-1] == 2.0


def curve(medians):
    return pd.DataFrame({"budget": range(1, len(medians) + 1), "median": medians,
                         "low": medians, "high": medians})


def test_stable_from():
    a, b = curve([1, 2, 3, 4]), curve([2, 2, 2, 5])
    assert stable_from({"a": a, "b": b}, "max") == 4  # b leads only at the last trial
    assert stable_from({"a": curve([1, 1, 1, 1]), "b": curve([2, 3, 3, 3])}, "max") == 1
    assert stable_from({"a": curve([3, 1, 1, 1]), "b": curve([2, 3, 3, 3])}, "max") == 2
    assert stable_from({"a": a}, "max") is None


def test_untuned_and_tuned_are_compared_on_the_same_search_seeds():
    rec = {"goal": "max", "budget": 3, "cells": [
        {"label": "A", "default_note": "", "best": {"number": 1, "value": 5.5}, "trials": [
            {"counted": True, "outcome": "finished", "role": "default", "value": 5.0},
            {"counted": True, "outcome": "finished", "role": "search", "value": 5.5}]},
        {"label": "B", "default_note": "", "best": {"number": 1, "value": 6.0}, "trials": [
            {"counted": True, "outcome": "finished", "role": "default", "value": 4.0},
            {"counted": True, "outcome": "finished", "role": "search", "value": 6.0},
            {"counted": True, "outcome": "finished", "role": "search", "value": 6.0}]},
        {"label": "C", "default_note": "", "best": {"number": 0, "value": 3.0}, "trials": [
            {"counted": True, "outcome": "finished", "role": "default", "value": 3.0},
            {"counted": True, "outcome": "pruned", "role": "search", "value": None}]}]}
    # the final phase's means (other seeds) do not enter the comparison
    ranked = pd.DataFrame({"cell": ["C", "A", "B"], "mean": [9.0, 5.2, 1.0]})
    r = analyse(rec, ranked).ranks.set_index("cell")
    assert r.loc["A", "untuned_rank"] == 1 and r.loc["B", "tuned_rank"] == 1
    assert list(r["moved"]) == [True, True, False]
    # C's best is its default: the same value on both sides, whatever its final mean
    assert r.loc["C", "untuned"] == r.loc["C", "tuned"] == 3.0 and r.loc["C", "final"] == 9.0
    assert list(r["tied"]) == [1, 2, 1]  # B's best value was reached by two trials
