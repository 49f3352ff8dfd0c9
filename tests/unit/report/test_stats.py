"""Statistics on synthetic run tables with effects planted by construction.

Tables are shaped like MLflowStore.runs_frame() (params.tricks.*, tags.*, metrics.eval/*) and
go through tidy_runs, so the whole pure path from the store's frame is exercised.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ganbench.report.factorial import effect_sentences, factorial
from ganbench.report.frame import tidy_runs
from ganbench.report.stats import (
    TEST_NAME,
    ablations,
    holm,
    paired_delta,
    ranked_table,
    split_by_protocol,
    t_ci,
)

SN = {"spectral_norm": {"n_power_iterations": 1}}
GP = {"gradient_penalty": {"weight": 10.0}}
LS = {"label_smoothing": {"real": 0.9}}


def runs_frame(cells: dict[str, dict], value, seeds=range(5), status=None,
               extra=None, metric: str = "fid") -> pd.DataFrame:
    """cells: label -> tricks {name: params}; value(label, seed) -> metric;
    status(label, seed) -> tag (default finished); extra(label, seed) -> more columns."""
    rows = []
    for label, tricks in cells.items():
        for seed in seeds:
            st = status(label, seed) if status else "finished"
            row = {"run_id": f"{label}-{seed}", "mlflow_status": "FINISHED",
                   "run_name": f"{label} · s{seed}", "params.seed": str(seed),
                   "params.loss": "ns", "params.steps": "1000",
                   "tags.ganbench.run_key": f"{label}/{seed}", "tags.ganbench.cell": label,
                   "tags.status": st,
                   f"metrics.eval/{metric}": value(label, seed) if st == "finished" else math.nan}
            for name, params in tricks.items():
                for k, v in params.items():
                    row[f"params.tricks.{name}.{k}"] = str(v)
            if extra:
                row.update(extra(label, seed))
            rows.append(row)
    return pd.DataFrame(rows)


def two_by_two(a=-5.0, b=0.0, ab=3.0, sigma=1.0, seeds=5, rng=None, base=50.0):
    """Trick A = spectral_norm, B = gradient_penalty; seed blocks add a shared offset."""
    rng = rng or np.random.default_rng(0)
    block = rng.normal(0, 2.0, seeds)  # seed effects: what blocking removes
    cells = {"baseline": {}, "sn": SN, "gp": GP, "gp+sn": {**SN, **GP}}
    planted = {"baseline": 0.0, "sn": a, "gp": b, "gp+sn": a + b + ab}
    noise = {(c, s): rng.normal(0, sigma) for c in cells for s in range(seeds)}
    return runs_frame(cells, lambda c, s: base + planted[c] + block[s] + noise[(c, s)],
                      seeds=range(seeds))


@pytest.fixture
def fast_holm(monkeypatch):
    """statsmodels' Holm branch calls gc.collect() (~0.1 s with torch loaded): harmless in a
    report, but it would dominate simulations of hundreds of tables."""
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


def effect(fx, term):
    hit = fx.table[fx.table["term"] == term]
    assert len(hit) == 1, list(fx.table["term"])
    return hit.iloc[0]


# ------------------------------------------------------------------ factorial: planted effects


def test_factorial_recovers_planted_main_effect_and_interaction():
    fx = factorial(tidy_runs(two_by_two(seeds=10, rng=np.random.default_rng(2)), "fid"))
    assert fx.interactions
    a, b, ab = (effect(fx, t) for t in ("spectral_norm", "gradient_penalty",
                                        "gradient_penalty × spectral_norm"))
    assert a["ci_low"] <= -5 <= a["ci_high"] and a["significant"]
    assert ab["ci_low"] <= 3 <= ab["ci_high"] and ab["significant"]
    assert b["ci_low"] <= 0 <= b["ci_high"] and not b["significant"]
    assert (fx.table["p_holm"] >= fx.table["p"] - 1e-12).all()
    assert fx.n_used == 40 and list(fx.table["n_seeds"]) == [10, 10, 10]


def test_factorial_cis_cover_the_planted_values_at_about_95_percent(fast_holm):
    covered = {"spectral_norm": 0, "gradient_penalty × spectral_norm": 0}
    truth = {"spectral_norm": -5.0, "gradient_penalty × spectral_norm": 3.0}
    n = 200
    for i in range(n):
        fx = factorial(tidy_runs(two_by_two(rng=np.random.default_rng(100 + i)), "fid"))
        for term in covered:
            r = effect(fx, term)
            covered[term] += r["ci_low"] <= truth[term] <= r["ci_high"]
    for term, k in covered.items():
        assert 0.90 <= k / n <= 0.99, (term, k / n)


def _fwer_bound(alpha: float, n: int) -> float:
    """alpha plus 2.5 binomial standard errors: a fair test fails this ~0.6% of the time."""
    return alpha + 2.5 * math.sqrt(alpha * (1 - alpha) / n)


def test_corrected_tests_keep_the_false_positive_rate_on_null_tables(fast_holm):
    n, any_factorial, any_plus, any_minus = 200, 0, 0, 0
    for i in range(n):
        t = tidy_runs(two_by_two(a=0, b=0, ab=0, rng=np.random.default_rng(10_000 + i)), "fid")
        any_factorial += bool(factorial(t).table["significant"].any())
        abl = ablations(t)
        any_plus += bool(abl["baseline + X"]["significant"].any())
        any_minus += bool(abl["all − X"]["significant"].any())
    for k in (any_factorial, any_plus, any_minus):
        assert k / n <= _fwer_bound(0.05, n), (any_factorial, any_plus, any_minus)


def test_effect_sentences_state_direction_size_and_interval():
    fx = factorial(tidy_runs(two_by_two(seeds=10, rng=np.random.default_rng(2)), "fid"))
    text = effect_sentences(fx, "fid")
    assert len(text) == 2
    assert text[0].startswith("spectral_norm lowers fid by ")
    a = effect(fx, "spectral_norm")
    assert f"[{-a['ci_high']:.3g}, {-a['ci_low']:.3g}]" in text[0]
    assert text[1].startswith("gradient_penalty with spectral_norm raises fid by a further ")


def test_fractional_design_fits_main_effects_only_and_says_why():
    # 2^(3-1), C = AB (resolution III): every interaction is aliased with a main effect.
    rng = np.random.default_rng(3)
    cells = {"baseline": {}, "gp+sn": {**SN, **GP}, "ls+sn": {**SN, **LS}, "gp+ls": {**GP, **LS}}
    planted = {"baseline": 0, "gp+sn": -4 + 0, "ls+sn": -4 + 2, "gp+ls": 0 + 2}  # sn −4, ls +2
    t = tidy_runs(runs_frame(cells, lambda c, s: 10 + planted[c] + rng.normal(0, 0.5),
                             seeds=range(8)), "fid")
    fx = factorial(t)
    assert not fx.interactions
    assert any("aliased" in n for n in fx.notes)
    assert set(fx.table["kind"]) == {"main"}
    sn, ls = effect(fx, "spectral_norm"), effect(fx, "label_smoothing")
    assert sn["ci_low"] <= -4 <= sn["ci_high"] and ls["ci_low"] <= 2 <= ls["ci_high"]
    assert not fx.saturated
    assert "averaged over the other factors" in " ".join(effect_sentences(fx, "fid"))


def test_factorial_notes_a_combination_that_never_ran():
    # label_smoothing with hinge is a conflict: that cell was dropped from the plan.
    def extra(label, seed):
        return {"params.loss": "hinge" if "hinge" in label else "ns"}

    cells = {"baseline": {}, "ls": LS, "baseline · loss=hinge": {}}
    rng = np.random.default_rng(1)
    t = tidy_runs(runs_frame(cells, lambda c, s: rng.normal(), extra=extra), "fid")
    fx = factorial(t)
    assert set(fx.table["term"]) == {"label_smoothing", "loss=hinge"}
    assert any("3 of the 4 level combinations" in n and "every interaction is assumed 0" in n
               for n in fx.notes)


def test_multi_level_trick_gets_one_effect_per_level():
    cells = {"baseline": {}, "gp1": {"gradient_penalty": {"weight": 1.0}}, "gp10": GP}
    shift = {"baseline": 0, "gp1": -1, "gp10": -6}
    rng = np.random.default_rng(2)
    t = tidy_runs(runs_frame(cells, lambda c, s: shift[c] + rng.normal(0, 0.3)), "fid")
    fx = factorial(t)
    assert list(fx.table["term"]) == ["gp1", "gp10"]
    assert effect(fx, "gp10")["ci_low"] <= -6 <= effect(fx, "gp10")["ci_high"]


def test_a_noiseless_table_is_judged_by_the_seeds_it_has_not_by_false_certainty():
    # Every seed agrees: the sign-flip test gives the smallest p 5 seeds allow (2^-4), which
    # no Holm family of 3 effects accepts; zero contrasts get p = 1.
    t = tidy_runs(two_by_two(sigma=0.0, rng=np.random.default_rng(0)).assign(
        **{"metrics.eval/fid": lambda d: d["metrics.eval/fid"].round(6)}), "fid")
    t["value"] = t["cell"].map({"baseline": 1.0, "sn": 2.0, "gp": 1.0, "gp+sn": 2.0})
    fx = factorial(t).table.set_index("term")
    assert fx.loc["spectral_norm", "p"] == 2 ** -4 and fx.loc["gradient_penalty", "p"] == 1
    assert not fx["significant"].any()


# ------------------------------------------------------------------ ablations


def test_ablation_tables_measure_each_trick_alone_and_left_out():
    # 8 seeds: the sign-flip test's smallest p is 2^-7, 2^-6 after Holm over 2 rows
    abl = ablations(tidy_runs(two_by_two(seeds=8, rng=np.random.default_rng(1)), "fid"))
    plus, minus = abl["baseline + X"], abl["all − X"]
    assert list(plus["term"]) == ["gradient_penalty", "spectral_norm"]
    sn_plus = plus.set_index("term").loc["spectral_norm"]
    assert sn_plus["reference"] == "baseline" and sn_plus["treated"] == "sn"
    assert sn_plus["ci_low"] <= -5 <= sn_plus["ci_high"] and sn_plus["significant"]
    assert sn_plus["test"] == TEST_NAME and sn_plus["n_pairs"] == 8
    # all − sn: (gp+sn) − gp = −5 + 3 = −2: what sn adds on top of everything else
    sn_minus = minus.set_index("term").loc["spectral_norm"]
    assert sn_minus["reference"] == "gp" and sn_minus["treated"] == "gp+sn"
    assert sn_minus["ci_low"] <= -2 <= sn_minus["ci_high"]
    gp_plus = plus.set_index("term").loc["gradient_penalty"]
    assert not gp_plus["significant"]
    # Holm with 2 rows: the smaller p is doubled
    assert plus["p_holm"].min() == pytest.approx(min(1, 2 * plus["p"].min()))


def test_diverged_runs_are_counted_as_failures_and_unpaired():
    frame = two_by_two()
    gone = (frame["tags.ganbench.cell"] == "sn") & (frame["params.seed"].isin(["1", "3"]))
    frame.loc[gone, "tags.status"] = "diverged"
    frame.loc[gone, "metrics.eval/fid"] = math.nan
    t = tidy_runs(frame, "fid")
    row = ablations(t)["baseline + X"].set_index("term").loc["spectral_norm"]
    assert (row["trt_diverged"], row["trt_n"], row["ref_diverged"], row["n_pairs"]) == (2, 5, 0, 3)
    ranked = ranked_table(t, "min").set_index("cell")
    assert ranked.loc["sn", "n_diverged"] == 2 and ranked.loc["sn", "n_finished"] == 3
    assert ranked.loc["sn", "failure_rate"] == pytest.approx(2 / 5)
    assert factorial(t).n_used == 18


def test_leave_one_out_design_gives_only_the_all_minus_table():
    cells = {"gp+sn": {**SN, **GP}, "gp": GP, "sn": SN}
    rng = np.random.default_rng(4)
    abl = ablations(tidy_runs(runs_frame(cells, lambda c, s: rng.normal()), "fid"))
    assert list(abl) == ["all − X"] and len(abl["all − X"]) == 2


def test_paired_delta_uses_the_sign_flip_test_and_a_paired_t_interval():
    ref = pd.Series([1.0, 2.0, 3.5, 4.0], index=[0, 1, 2, 3])
    trt = pd.Series([2.0, 2.5, 5.0, 4.1], index=[0, 1, 2, 3])
    r = paired_delta(ref, trt)
    # every difference is positive: only the identity and the all-flipped vector reach it
    assert r["test"] == TEST_NAME and r["p"] == pytest.approx(2 / 16)
    assert r["p_min"] == pytest.approx(2 / 16)
    assert r["delta"] == pytest.approx(0.775)
    ci = sps.ttest_rel(trt, ref).confidence_interval(0.95)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_paired_delta_with_identical_differences_gets_the_smallest_p_n_allows():
    ref = pd.Series([8.0, 7.0, 8.0], index=[0, 1, 2])
    r = paired_delta(ref, ref - 2)  # a t-test would claim p = 0 here
    assert r["test"] == TEST_NAME and r["p"] == pytest.approx(0.25) == r["p_min"]
    assert (r["delta"], r["ci_low"], r["ci_high"]) == (-2, -2, -2)
    assert paired_delta(ref, ref)["p"] == 1.0
    assert math.isnan(paired_delta(ref.iloc[:1], ref.iloc[:1] + 1)["p"])


def test_holm_leaves_missing_p_values_out_of_the_count():
    adj, sig = holm(pd.Series([0.01, math.nan, 0.04]))
    assert adj[0] == pytest.approx(0.02) and adj[2] == pytest.approx(0.04)
    assert math.isnan(adj[1]) and list(sig) == [True, False, True]


# ------------------------------------------------------------------ ranked table


def test_t_ci_is_the_student_interval_and_handles_degenerate_samples():
    v = [1.2, 3.1, 2.2, 0.1, 2.5]
    lo, hi = t_ci(v)
    half = sps.t.ppf(0.975, 4) * np.std(v, ddof=1) / math.sqrt(5)
    assert (lo, hi) == pytest.approx((np.mean(v) - half, np.mean(v) + half))
    # No spread: never a point where the range is known; the rule of three's share.
    q = 1 - 0.05 ** (1 / 3)
    assert t_ci([8.0, 8.0, 8.0]) == (8.0, 8.0)  # an open range: nothing to widen toward
    assert t_ci([8.0, 8.0, 8.0], bounds=(0.0, 10.0)) == pytest.approx((8 - 8 * q, 8 + 2 * q))
    assert t_ci([0.0, 1.0, 2.0], bounds=(0.0, 8.0))[0] == 0.0  # clipped to the range
    assert all(math.isnan(x) for x in t_ci([3.0]))
    assert t_ci([1.0, math.nan, 3.0]) == pytest.approx(t_ci([1.0, 3.0]))


def test_ranked_table_separates_only_what_the_pairwise_tests_separate():
    centre = {"a": 10.0, "b": 10.3, "c": 20.0}
    offsets = [-0.5, 0.2, 0.4, -0.1, 0.0, 0.3, -0.2, 0.1]
    noise = np.random.default_rng(1).normal(0, 1.0, (3, 8))
    t = tidy_runs(runs_frame({"a": {}, "b": SN, "c": GP},
                             lambda c, s: centre[c] + offsets[s] + noise["abc".index(c), s],
                             seeds=range(8)), "fid")
    low = ranked_table(t, "min")
    assert list(low["cell"]) == ["a", "b", "c"]
    assert list(low["rank"]) == [1, 1, 3] and list(low["tied"]) == [True, True, False]
    assert (low["ci_low"] <= low["mean"]).all() and (low["mean"] <= low["ci_high"]).all()
    assert len(low.attrs["pairs"]) == 3  # the family: every pair of ranked cells
    high = ranked_table(t, "max")
    assert list(high["cell"]) == ["c", "b", "a"] and list(high["rank"]) == [1, 2, 2]


def test_five_seeds_can_separate_no_cells_and_rank_them_all_first():
    # The sign-flip test's smallest p at 5 seeds is 0.0625: no pair can be separated.
    t = tidy_runs(runs_frame({"a": {}, "b": SN}, lambda c, s: 100.0 * (c == "b") + s), "fid")
    assert list(ranked_table(t, "min")["rank"]) == [1, 1]


def test_a_cell_where_every_run_diverged_is_listed_last_without_rank():
    t = tidy_runs(runs_frame({"a": {}, "b": SN}, lambda c, s: 1.0 + s,
                             status=lambda c, s: "diverged" if c == "b" else "finished"), "fid")
    r = ranked_table(t, "max")
    assert list(r["cell"]) == ["a", "b"] and math.isnan(r.loc[1, "rank"])
    assert r.loc[1, "failure_rate"] == 1.0


def test_runs_under_different_protocols_are_split_never_pooled():
    def extra(label, seed):
        return {"tags.protocol.fid": "fid10k/train" if seed < 3 else "fid50k/train"}

    t = tidy_runs(runs_frame({"a": {}, "b": SN}, lambda c, s: float(s), extra=extra), "fid")
    groups = split_by_protocol(t)
    assert [p for p, _ in groups] == ["fid10k/train", "fid50k/train"]
    assert [len(g) for _, g in groups] == [6, 4]
    assert all(len(ranked_table(g, "min")) == 2 for _, g in groups)
    assert [p for p, _ in split_by_protocol(tidy_runs(two_by_two(), "fid"))] == [""]


def test_goal_must_be_max_or_min():
    with pytest.raises(ValueError, match="goal"):
        ranked_table(tidy_runs(two_by_two(), "fid"), "best")
