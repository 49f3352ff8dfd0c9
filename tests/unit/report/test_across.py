"""One trick across several tasks (issue 30): probability of improvement, IQM, stratified
bootstrap intervals and the normalisation, checked by simulation and on known vectors; the
report's section on a synthetic two-dataset sweep; no section without a dataset axis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.report.across import (
    across_tasks,
    iqm,
    normalise,
    poi_interval,
    poi_stat,
    prob_improvement,
    stratified_bootstrap,
)
from ganbench.report.build import analyse, write
from ganbench.report.frame import tidy_runs

from .test_report import store_data
from .test_stats import SN, runs_frame

TASKS = ("ring8", "grid25")


def _poi_interval(diffs):
    return prob_improvement(diffs), poi_interval(diffs, resamples=1000)


# ------------------------------------------------------------------ estimators


def test_bootstrap_interval_of_prob_improvement_covers_the_truth_at_about_nominal():
    shifts = np.array([0.3, 0.8, 0.0])  # 3 tasks, per-seed differences N(shift, 1)
    truth = float(np.mean(stats.norm.cdf(shifts)))
    rng = np.random.default_rng(1)
    n, covered = 200, 0
    for _ in range(n):
        diffs = [rng.normal(s, 1.0, 8) for s in shifts]
        _, (lo, hi) = _poi_interval(diffs)
        covered += lo <= truth <= hi
    assert covered / n >= 0.9, covered / n


def test_no_effect_gives_prob_improvement_near_one_half_and_covers_it():
    rng = np.random.default_rng(2)
    points, covered, n = [], 0, 200
    for _ in range(n):
        # integer differences, symmetric about 0, with ties (each counts 1/2)
        diffs = [rng.integers(-2, 3, 8).astype(float) for _ in range(3)]
        p, (lo, hi) = _poi_interval(diffs)
        points.append(p)
        covered += lo <= 0.5 <= hi
    assert abs(np.mean(points) - 0.5) < 0.02
    assert covered / n >= 0.9, covered / n


def test_prob_improvement_counts_ties_as_half_and_averages_over_tasks():
    assert prob_improvement([np.array([1.0, 0.0, -1.0, 2.0]), np.array([1.0, 1.0])]) == \
        pytest.approx((2.5 / 4 + 1.0) / 2)


def test_iqm_is_the_25_percent_trimmed_mean():
    x = np.array([100.0, 1, 2, 3, 4, 5, 6, -50])
    assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))
    assert iqm(x) == pytest.approx(np.mean([2, 3, 4, 5]))  # middle half of the sorted 8


def test_all_wins_never_give_a_point_interval():
    diffs = [np.ones(5), np.ones(5)]
    lo, hi = poi_interval(diffs)
    assert prob_improvement(diffs) == 1.0 and hi == 1.0
    assert lo == pytest.approx(0.05 ** (1 / 10))  # 1 − unseen_share(10 pairs): about 0.74


def test_no_interval_when_a_task_has_fewer_than_two():
    lo, hi = stratified_bootstrap([np.array([1.0, 2.0]), np.array([3.0])], poi_stat)
    assert math.isnan(lo) and math.isnan(hi)


def test_normalisation_is_min_max_per_task_and_flipped_for_goal_min():
    values = pd.Series([10.0, 20.0, 30.0, 1.0, 3.0])
    tasks = pd.Series(["a", "a", "a", "b", "b"])
    assert list(normalise(values, tasks, "max")) == pytest.approx([0, 0.5, 1, 0, 1])
    # FID: lower is better, so the lowest value scores 1
    assert list(normalise(values, tasks, "min")) == pytest.approx([1, 0.5, 0, 1, 0])
    same = normalise(pd.Series([2.0, 2.0]), pd.Series(["a", "a"]), "max")
    assert same.isna().all()  # no spread: undefined, never 0


# ------------------------------------------------------------------ synthetic sweeps


def _two_datasets(shift: float = -4.0, seeds: int = 5) -> pd.DataFrame:
    """baseline and sn on ring8 and grid25 (FID-like, lower is better): sn lowers it."""
    rng = np.random.default_rng(3)
    cells = {f"{c} · dataset={d}": tr for d in TASKS for c, tr in (("baseline", {}), ("sn", SN))}
    scale = {"ring8": 1.0, "grid25": 10.0}  # tasks on different scales
    noise = {(c, s): rng.normal(0, 1) for c in cells for s in range(seeds)}

    def value(label, seed):
        d = label.split("=")[-1]
        return scale[d] * (50 + (shift if label.startswith("sn") else 0) + noise[(label, seed)])

    return runs_frame(cells, value, seeds=range(seeds),
                      extra=lambda label, seed: {"params.dataset": label.split("=")[-1]})


def test_across_tasks_pairs_by_seed_and_flips_fid():
    frame = _two_datasets()
    t = tidy_runs(frame, "fid", order=list(dict.fromkeys(frame["tags.ganbench.cell"])))
    acr = across_tasks(t, "min")
    assert acr is not None and acr.tasks == list(TASKS)
    (row,) = acr.table.to_dict("records")
    assert row["term"] == "spectral_norm" and row["tasks"] == 2 and row["pairs"] == 10
    assert row["p_imp"] > 0.8  # sn lowers FID: an improvement
    assert row["iqm_trt"] > row["iqm_base"] and row["delta"] > 0
    assert len(acr.effects) == 2 and (acr.effects["delta"] > 0).all()


def test_report_of_a_two_dataset_sweep_has_the_section_and_the_plot(tmp_path):
    data = store_data(_two_datasets(), tmp_path)
    rep = analyse(data, "ganbench report synth", "sqlite:///x.db")
    write(rep, data, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Across tasks (supporting detail)" in md
    assert "Normalised score: per dataset, each run's `fid` is mapped to [0, 1]" in md
    assert "| trick | tasks | P(improvement) [95% CI]" in md
    assert ("Supporting detail: a summary across the dataset values (ring8, grid25), not a "
            "test") in md
    # the summary leans better while no within-task test decides (5 seeds): said, not hidden
    assert "spectral_norm: the summary leans better" in md
    assert "the within-task tests are the answer" in md
    assert (tmp_path / "out" / "across-tasks.png").stat().st_size > 0
    assert "(across-tasks.png)" in md
    # the primary analysis is unchanged: per-dataset rows of baseline + X
    assert "dataset=ring8" in md and "dataset=grid25" in md
    assert any("across" in f.name for f in rep.files)
    tex = (tmp_path / "out" / "report.tex").read_text()
    assert "Across tasks (supporting detail)" in tex and "P(improvement)" in tex


def test_a_sweep_without_a_dataset_axis_gets_no_section(tmp_path):
    frame = runs_frame({"baseline": {}, "sn": SN}, lambda c, s: 50.0 + s - 3 * (c == "sn"))
    data = store_data(frame, tmp_path)
    rep = analyse(data, "ganbench report synth", "sqlite:///x.db")
    assert rep.groups[0].across is None
    write(rep, data, tmp_path / "out")
    assert "Across tasks" not in (tmp_path / "out" / "report.md").read_text()
    assert not (tmp_path / "out" / "across-tasks.png").exists()
