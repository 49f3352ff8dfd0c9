"""Seed planning (report/planning.py), checked by simulation of the report's own test: the
planned seeds reach the power in a fresh simulation and one seed fewer does not; ties, a
larger Holm family and a smaller effect all need more seeds; a huge effect needs exactly the
test's minimum (`seeds_needed`); the comparisons are the primary analysis's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.report.inference import seeds_needed
from ganbench.report.planning import (
    differences,
    pilot_spread,
    plan_seeds,
    planned_runs,
    power_at,
    primary_comparisons,
    seeds_for_power,
)

FAST = 500  # simulated sweeps per n in these tests (the CLI uses 2,000)


def test_the_planned_seeds_reach_the_power_in_a_fresh_simulation_and_one_fewer_does_not():
    need = seeds_for_power(1.0, 1.0, rows=1, power=0.8, sims=1000)
    n = need.seeds
    assert 8 <= n <= 14  # a paired t test would want about 10 at d = 1
    fresh = dict(effect=1.0, sd=1.0, rows=1, sims=2000, seed=12345)
    assert power_at(n, **fresh) >= 0.8 - 0.03
    assert power_at(n - 1, **fresh) < 0.8 + 0.03
    # On its own draws it is the smallest such n: every smaller one falls short.
    assert all(power_at(m, 1.0, 1.0, rows=1, sims=1000) < 0.8 for m in range(1, n))


def test_ties_more_rows_and_smaller_effects_need_more_seeds():
    base = seeds_for_power(1.5, 1.0, sims=FAST).seeds
    assert seeds_for_power(1.5, 1.0, ties=0.4, sims=FAST).seeds > base
    assert seeds_for_power(1.5, 1.0, rows=5, sims=FAST).seeds > base
    assert seeds_for_power(1.0, 1.0, sims=FAST).seeds > base


@pytest.mark.parametrize("rows", [1, 2, 3, 6, 12])
def test_a_huge_effect_needs_exactly_the_tests_minimum(rows):
    need = seeds_for_power(100.0, 0.01, rows=rows, sims=FAST)
    assert need.seeds == seeds_needed(rows)
    assert need.power == 1.0


def test_with_a_huge_effect_and_ties_only_the_pairs_that_differ_count():
    # Every nonzero difference is positive, so a row is found iff at least k = seeds_needed
    # pairs differ: power = P(Binomial(n, 1 − ties) ≥ k), known exactly.
    ties, rows = 0.3, 3
    k = seeds_needed(rows)
    exact = next(n for n in range(k, 60) if stats.binom.sf(k - 1, n, 1 - ties) >= 0.8)
    got = seeds_for_power(100.0, 0.01, ties=ties, rows=rows, sims=2000).seeds
    assert abs(got - exact) <= 1


def test_power_is_zero_below_the_minimum_and_reproducible():
    assert power_at(seeds_needed(1) - 1, 100.0, 0.01, sims=FAST) == 0.0
    assert power_at(9, 1.0, 1.0, sims=FAST) == power_at(9, 1.0, 1.0, sims=FAST)
    # Common random numbers: the first n seeds of a longer simulation are the same sweeps.
    np.testing.assert_array_equal(differences(12, 1.0, 1.0, 0.2)[:, :7],
                                  differences(7, 1.0, 1.0, 0.2))


def test_beyond_the_cap_it_says_so():
    need = seeds_for_power(0.1, 1.0, cap=12, sims=FAST)
    assert need.seeds is None and need.power < 0.8


@pytest.mark.parametrize("kwargs, option", [
    ({"effect": -0.5, "sd": 1.0}, "--effect"), ({"effect": 0.0, "sd": 1.0}, "--effect"),
    ({"effect": 0.5, "sd": -1.0}, "--sd"), ({"effect": 0.5, "sd": 1.0, "ties": 1.0}, "--ties"),
    ({"effect": 0.5, "sd": 1.0, "power": 1.0}, "--power"),
])
def test_bad_numbers_are_refused_naming_the_option(kwargs, option):
    with pytest.raises(ValueError, match=option):
        seeds_for_power(**kwargs, sims=10)


def test_a_plan_puts_equal_rows_through_one_simulation_and_holm_over_all_rows():
    rows = pd.DataFrame({"term": ["a", "b", "c"], "sd": [1.0, 1.0, 1.0],
                         "ties": [0.0, 0.0, 0.5]})
    plan = plan_seeds(rows, effect=1.5, seeds_now=5, sims=FAST)
    assert plan["seeds"].iloc[0] == plan["seeds"].iloc[1] == seeds_for_power(
        1.5, 1.0, rows=3, sims=FAST).seeds
    assert plan["seeds"].iloc[2] > plan["seeds"].iloc[0]
    assert (plan["power_now"] == 0).all()  # 5 seeds cannot reach 0.05/3: 2^-4 > 0.0167
    assert plan.attrs["rows"] == 3


# ------------------------------------------------------------------ comparisons and pilots


class _Cell:
    def __init__(self, label, config):
        self.label, self.config = label, config


def _cells():
    from ganbench.config import RunConfig

    base = RunConfig(dataset="ring8", model="mlp", steps=10)
    cells = []
    for loss in ("ns", "hinge"):
        for tricks, label in (({}, "baseline"), ({"spectral_norm": {}}, "sn"),
                              ({"instance_noise": {"std": 0.1}}, "noise")):
            cfg = base.model_copy(update={"loss": loss, "tricks": tricks})
            cells.append(_Cell(f"{label} · loss={loss}", cfg))
    return cells


def test_the_comparisons_are_the_primary_ablations_rows():
    from ganbench.report.frame import tidy_runs

    t = tidy_runs(planned_runs(_cells()), "modes")
    name, rows = primary_comparisons(t)
    assert name == "baseline + X"
    assert len(rows) == 4  # sn and noise against the baseline, under each loss
    assert set(rows["reference"]) == {"baseline · loss=ns", "baseline · loss=hinge"}
    assert set(rows["treated"]) == {"sn · loss=ns", "noise · loss=ns", "sn · loss=hinge",
                                    "noise · loss=hinge"}
    for ref, trt in zip(rows["reference"], rows["treated"], strict=True):
        assert ref.split(" · ")[1] == trt.split(" · ")[1]  # within one loss


def _tidy(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"cell": c, "seed": s, "value": v} for c, vs in values.items()
                         for s, v in enumerate(vs)])


def test_a_pilot_gives_each_rows_sd_of_nonzero_differences_and_its_ties():
    rows = pd.DataFrame({"reference": ["base", "base"], "treated": ["sn", "ls"]})
    pilot = _tidy({"base": [6, 7, 8, 8, 7, 8], "sn": [8, 8, 8, 8, 6, 8],
                   "ls": [7, 7, np.nan, 8, 8, 6]})
    out = pilot_spread(pilot, rows)
    d = np.array([2, 1, 0, 0, -1, 0])
    assert out["ties"].iloc[0] == pytest.approx(0.5)
    assert out["sd"].iloc[0] == pytest.approx(np.std(d[d != 0], ddof=1))
    assert out["pilot_pairs"].tolist() == [6, 5]
    assert out["source"].tolist() == ["pilot", "pilot"]


def test_a_pilot_without_a_rows_cells_lends_its_largest_spread_and_too_few_pairs_are_refused():
    rows = pd.DataFrame({"reference": ["base", "base"], "treated": ["sn", "new"]})
    out = pilot_spread(_tidy({"base": [1.0, 2, 3], "sn": [2.0, 2, 5]}), rows)
    assert out["sd"].iloc[1] == out["sd"].iloc[0] and "largest" in out["source"].iloc[1]
    with pytest.raises(ValueError, match="1 paired seed"):
        pilot_spread(_tidy({"base": [1.0, np.nan], "sn": [2.0, 3.0]}), rows)
    with pytest.raises(ValueError, match="none of this sweep's"):
        pilot_spread(_tidy({"x": [1.0, 2.0]}), rows)
