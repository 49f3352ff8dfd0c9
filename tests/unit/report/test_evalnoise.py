"""The report's evaluation noise (issue 30): eval sd beside seed sd per cell, cells closer
than evaluation noise flagged, and "not measured" (never 0) when runs had one draw."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ganbench.report.build import analyse, write
from ganbench.report.evalnoise import cell_noise, headline, sentences, within_eval_noise
from ganbench.report.frame import factors_of, tidy_runs

from .test_report import store_data
from .test_stats import GP, SN, runs_frame, two_by_two


def _tidy(means: dict[str, float], eval_sd: dict[str, float], draws: int = 3) -> pd.DataFrame:
    """A synthetic tidy frame: three seeds per cell around its mean."""
    rows = [{"cell": c, "seed": s, "value": m + (s - 1) * 0.1, "eval_draws": draws,
             "eval_sd": eval_sd.get(c, math.nan)}
            for c, m in means.items() for s in range(3)]
    return pd.DataFrame(rows)


def test_cells_closer_than_evaluation_noise_are_flagged():
    noise = cell_noise(_tidy({"a": 10.0, "b": 10.3, "c": 12.0},
                             {"a": 0.5, "b": 0.2, "c": 0.5}))
    assert list(noise["eval_sd"]) == pytest.approx([0.5, 0.2, 0.5])
    assert noise["seed_sd"].iloc[0] == pytest.approx(0.1)
    flags = within_eval_noise(noise)
    assert [(a, b) for a, b, _, _ in flags] == [("a", "b")]  # 0.3 < 0.5; c is 1.7 away
    a, b, diff, bound = flags[0]
    # the bound is the larger of the two cells' eval sds
    assert diff == pytest.approx(0.3) and bound == pytest.approx(0.5)
    text = " ".join(sentences(noise, "fid"))
    assert "Flagged: 1 pair(s)" in text and "a vs b" in text
    assert "Every ± in this report is a seed-to-seed sd" in text


def test_a_cell_without_evaluation_sd_is_never_judged_or_printed_as_zero():
    noise = cell_noise(_tidy({"a": 10.0, "b": 10.1}, {"a": 0.5}))
    assert within_eval_noise(noise) == []
    text = " ".join(sentences(noise, "fid"))
    assert "Not measured in 1 cell(s) (b)" in text


def test_one_draw_says_evaluation_noise_was_not_measured():
    noise = cell_noise(_tidy({"a": 10.0, "b": 10.3}, {}, draws=1))
    text = " ".join(sentences(noise, "fid"))
    assert "Evaluation noise was not measured" in text and "one draw" in text
    assert "seed-to-seed" in text and "eval sd 0" not in text
    assert "not measured" in headline(noise, "fid")


def _with_eval(frame: pd.DataFrame, sd: float) -> pd.DataFrame:
    return frame.assign(**{"params.eval_repeats": "3", "metrics.eval/fid_eval_sd": sd})


def test_report_shows_eval_sd_beside_seed_sd_when_runs_had_draws(tmp_path):
    frame = _with_eval(two_by_two(), 0.8)  # seed sd here is a few units: most pairs apart
    data = store_data(frame, tmp_path)
    rep = analyse(data, "ganbench report synth", "sqlite:///x.db")
    write(rep, data, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Evaluation noise beside seed-to-seed noise" in md
    assert "| cell | draws per run | eval sd of fid (mean over runs) | seed sd |" in md
    assert "| baseline | 3 | 0.8 (5 runs) |" in md
    assert "Every ± in this report is a seed-to-seed sd" in md
    assert any("Evaluation noise of `fid` (up to 3 draws per run): eval sd 0.8" in s
               for s in rep.groups[0].headline)
    csv = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert "fid_eval_sd" in csv.columns and set(csv["fid_eval_sd"].dropna()) == {0.8}
    assert "evaluation noise" in (tmp_path / "out" / "report.tex").read_text()


def test_report_says_not_measured_when_runs_had_one_draw(tmp_path):
    data = store_data(two_by_two(), tmp_path)  # recorded without eval_repeats: one draw
    rep = analyse(data, "ganbench report synth", "sqlite:///x.db")
    write(rep, data, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Evaluation noise was not measured: each run's final generator was scored with " \
           "one draw" in md
    assert "eval sd of fid" not in md  # no table of empty (or zero) values


def test_runs_recorded_before_eval_repeats_are_not_another_level():
    cells = {"baseline": {}, "sn": SN, "gp": GP}
    frame = runs_frame(cells, lambda c, s: 1.0 + s, seeds=range(2))
    frame["params.eval_repeats"] = ["1" if c == "sn" else None for c in
                                    frame["tags.ganbench.cell"]]
    t = tidy_runs(frame, "fid")
    assert "eval_repeats" not in {f.name for f in factors_of(t)}
    assert set(t["eval_draws"]) == {1}
