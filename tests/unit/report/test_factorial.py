"""The factorial model: saturated on full designs (its sentences must match the observed cell
differences), planted 3-way models recovered, floor cells and disagreements reported."""

from __future__ import annotations

import gc
import itertools
import math

import numpy as np
import pytest

from ganbench.report.factorial import disagreements, effect_sentences, factorial, model_sentence
from ganbench.report.frame import tidy_runs
from ganbench.report.stats import ablations

from .test_stats import GP, LS, SN, effect, runs_frame


@pytest.fixture
def fast_holm(monkeypatch):
    """As in test_stats: statsmodels' Holm calls gc.collect(), slow with torch loaded."""
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


TRICKS = {"sn": SN, "gp": GP, "ls": LS}
NAMES = {"sn": "spectral_norm", "gp": "gradient_penalty", "ls": "label_smoothing"}


def cube(planted: dict[frozenset, float], seeds: int = 5, sigma: float = 0.5, rng=None,
         status=None):
    """A 2^3 full factorial; planted: {frozenset of short names: effect} in 0/1 coding."""
    rng = rng or np.random.default_rng(0)
    block = rng.normal(0, 1.0, seeds)
    cells, truth = {}, {}
    for k in range(4):
        for on in itertools.combinations(sorted(TRICKS), k):
            label = "+".join(on) or "baseline"
            cells[label] = {t: p for s in on for t, p in TRICKS[s].items()}
            truth[label] = sum(v for term, v in planted.items() if term <= set(on))
    noise = {(c, s): rng.normal(0, sigma) for c in cells for s in range(seeds)}
    frame = runs_frame(cells, lambda c, s: 10 + truth[c] + block[s] + noise[(c, s)],
                       seeds=range(seeds), status=status)
    return tidy_runs(frame, "fid")


PLANTED = {frozenset({"sn"}): 0.5, frozenset({"gp"}): 1.0, frozenset({"ls"}): -0.5,
           frozenset({"gp", "sn"}): 0.8, frozenset({"gp", "ls", "sn"}): 2.0}
THREE = "gradient_penalty × label_smoothing × spectral_norm"


def test_full_design_fits_the_saturated_model_with_the_three_way_term():
    # 10 seeds: the sign-flip test's smallest p, 2^-9, survives Holm over 7 effects
    fx = factorial(cube(PLANTED, seeds=10))
    assert fx.saturated and fx.coding == "simple"
    assert list(fx.table["order"]).count(2) == 3 and list(fx.table["order"]).count(3) == 1
    # every effect is a per-seed contrast over all 10 seeds
    assert list(fx.table["n_seeds"]) == [10] * 7
    abc = effect(fx, THREE)  # coverage of every CI: the simulation below
    assert abc["ci_low"] <= 2.0 <= abc["ci_high"] and abc["significant"]
    assert "every interaction up to order 3" in model_sentence(fx)


def test_planted_main_effect_beside_a_three_way_interaction_is_recovered(fast_holm):
    # The audit: with the model cut at pairwise terms a planted main effect of 0.5 came
    # out 0.96. The saturated model is unbiased and its CI covers at about 95%.
    est, covered, n = [], {"spectral_norm": 0, THREE: 0}, 60
    truth = {"spectral_norm": 0.5, THREE: 2.0}
    for i in range(n):
        fx = factorial(cube(PLANTED, rng=np.random.default_rng(500 + i)))
        est.append(effect(fx, "spectral_norm")["estimate"])
        for term in covered:
            r = effect(fx, term)
            covered[term] += r["ci_low"] <= truth[term] <= r["ci_high"]
    assert abs(np.mean(est) - 0.5) < 0.1, np.mean(est)
    for term, k in covered.items():
        assert 0.87 <= k / n <= 1.0, (term, k / n)


def test_main_effect_sentences_match_the_observed_cell_differences():
    strong = {**PLANTED, frozenset({"sn"}): 3.0, frozenset({"gp"}): -4.0}
    t = cube(strong, seeds=10, rng=np.random.default_rng(3))
    fx = factorial(t)
    means = t.groupby("cell")["value"].mean()
    for short, name in NAMES.items():
        r = effect(fx, name)
        assert r["estimate"] == pytest.approx(means[short] - means["baseline"], abs=1e-9)
    r = effect(fx, "gradient_penalty × spectral_norm")
    dd = means["gp+sn"] - means["gp"] - means["sn"] + means["baseline"]
    assert r["estimate"] == pytest.approx(dd, abs=1e-9)
    said = 0
    for s in effect_sentences(fx, "fid"):
        name = s.split(" ")[0]
        short = next((k for k, v in NAMES.items() if v == name), None)
        if short is None or " with " in s.split(" raises")[0].split(" lowers")[0]:
            continue
        assert "when added to the baseline (with every other factor at its reference" in s
        assert f"by {abs(means[short] - means['baseline']):.3g} [" in s
        said += 1
    assert said >= 2  # sn (+3) and gp (−4) at σ 0.5 and 10 seeds at least


def test_with_a_lost_run_the_observed_difference_is_inside_the_printed_ci():
    def status(label, seed):
        return "diverged" if (label, seed) == ("sn", 2) else "finished"

    t = cube(PLANTED, rng=np.random.default_rng(4), status=status)
    fx = factorial(t)
    assert fx.saturated
    means = t.groupby("cell")["value"].mean()
    r = effect(fx, "spectral_norm")
    assert r["ci_low"] <= means["sn"] - means["baseline"] <= r["ci_high"]


def test_cells_without_spread_do_not_narrow_the_other_effects():
    # No variance is pooled: a floor cell leaves every contrast it is not part of unchanged.
    t = cube(PLANTED, rng=np.random.default_rng(5))
    before = factorial(t).table.set_index("term")
    lowest = t["value"].min() - 1
    t.loc[t["cell"].isin(["ls", "gp+ls"]), "value"] = lowest
    fx = factorial(t)
    assert fx.flat_cells == {"ls": "floor", "gp+ls": "floor"}
    after = fx.table.set_index("term")
    for term in ("spectral_norm", "gradient_penalty", "gradient_penalty × spectral_norm"):
        assert after.loc[term, "ci_low"] == before.loc[term, "ci_low"]
        assert after.loc[term, "ci_high"] == before.loc[term, "ci_high"]


def test_factorial_main_effects_are_the_ablation_rows_and_a_family_difference_is_explained():
    # 7 seeds: sn's p 2^-6 = 0.016 survives Holm over the ablation's 3 rows (0.047) but not
    # over the factorial's 7 effects (0.11): same contrast, same test, other family.
    t = cube({frozenset({"sn"}): -6.0}, seeds=7, sigma=0.3, rng=np.random.default_rng(6))
    fx = factorial(t)
    plus = ablations(t)["baseline + X"].set_index("term")
    for name in NAMES.values():
        assert effect(fx, name)["estimate"] == pytest.approx(plus.loc[name, "delta"])
        assert effect(fx, name)["p"] == pytest.approx(plus.loc[name, "p"])
    assert plus.loc["spectral_norm", "significant"]
    assert not effect(fx, "spectral_norm")["significant"]
    why = disagreements(fx, plus.reset_index())
    sn = next(s for s in why if s.startswith("spectral_norm:"))
    assert "the primary analysis" in sn and "same contrast with the same test" in sn
    assert "over all 7 effects" in sn and "over 3 rows" in sn


def test_a_fraction_is_not_saturated_and_says_what_was_pooled():
    rng = np.random.default_rng(7)
    cells = {"baseline": {}, "gp+sn": {**SN, **GP}, "ls+sn": {**SN, **LS}, "gp+ls": {**GP, **LS}}
    t = tidy_runs(runs_frame(cells, lambda c, s: rng.normal()), "fid")
    fx = factorial(t)
    assert not fx.saturated and fx.coding == "averaged"
    assert any("4 of the 8 level combinations" in n for n in fx.notes)
    assert any("every interaction is assumed 0" in n for n in fx.notes)
    assert "averaged over the other factors' levels" in model_sentence(fx)


def test_one_seed_per_cell_gives_no_intervals_instead_of_false_certainty():
    fx = factorial(cube(PLANTED, seeds=1))
    assert (fx.table["n_seeds"] == 1).all() and fx.table["p"].isna().all()
    assert not fx.table["significant"].any()
    assert math.isnan(effect(fx, "spectral_norm")["ci_low"])
