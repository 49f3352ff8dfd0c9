"""Reports on 2-D mixtures: final values that are undefined stay undefined, hq % and reverse
KL beside the ranking metric, the ranking rule, cost columns (and their absence) and the
warning below 3 seeds."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ganbench.report import latex, markdown
from ganbench.report.build import analyse
from ganbench.report.frame import tidy_runs
from ganbench.report.stats import ranked_table

from .test_report import _md_tables, store_data
from .test_stats import GP, SN, runs_frame

CELLS = {"baseline": {}, "sn": SN, "gp": GP, "gp+sn": {**SN, **GP}}
# (modes, hq, reverse_kl) per cell; sn: a noise cloud (many modes, no quality)
FINAL = {"baseline": (5, 0.9, 0.4), "sn": (22, 0.02, 0.1), "gp": (8, 0.95, 0.05),
         "gp+sn": (0, 0.0, math.nan)}


def points_frame(seeds=range(3), costs: bool = True, finals: bool = True) -> pd.DataFrame:
    def extra(label, seed):
        modes, hq, rkl = FINAL[label]
        row = {"metrics.eval/modes": modes, "metrics.eval/hq": hq,
               # an earlier evaluation's reverse KL: never to be read as the final one
               "metrics.eval/reverse_kl": 0.7 if math.isnan(rkl) else rkl}
        if finals:
            row.update({"metrics.eval/modes/final": modes, "metrics.eval/hq/final": hq,
                        "tags.undefined_final": "reverse_kl" if math.isnan(rkl) else "none"})
            if not math.isnan(rkl):
                row["metrics.eval/reverse_kl/final"] = rkl  # MLflow never stores a NaN
        if costs:
            n_d = 5 if label == "gp" else 1
            row.update({"metrics.perf/seconds": 2.0 * n_d, "metrics.cost/d_steps": 1000 * n_d,
                        "metrics.cost/g_steps": 1000})
        return row

    return runs_frame(CELLS, lambda c, s: FINAL[c][0], seeds=seeds, extra=extra,
                      metric="modes")


def test_an_undefined_final_stays_undefined_and_is_counted():
    t = tidy_runs(points_frame(), "reverse_kl")
    gone = t[t["cell"] == "gp+sn"]
    assert gone["value"].isna().all() and gone["undefined"].all()
    r = ranked_table(t, "min").set_index("cell")
    assert r.loc["gp+sn", "n_undefined"] == 3 and math.isnan(r.loc["gp+sn", "mean"])
    assert r.loc["gp", "n_undefined"] == 0 and r.loc["gp", "mean"] == pytest.approx(0.05)
    # companions: reverse KL undefined counts beside the modes ranking too
    r = ranked_table(tidy_runs(points_frame(), "modes"), "max").set_index("cell")
    assert r.loc["gp+sn", "reverse_kl_undefined"] == 3
    assert math.isnan(r.loc["gp+sn", "reverse_kl_mean"])


def test_runs_recorded_before_finals_fall_back_to_their_last_value():
    t = tidy_runs(points_frame(finals=False, costs=False), "reverse_kl")
    assert (t.loc[t["cell"] == "gp+sn", "value"] == 0.7).all()


def test_modes_hq_is_derived_for_runs_recorded_before_it_existed():
    t = tidy_runs(points_frame(), "modes_hq")
    by = t.groupby("cell")["value"].first()
    assert by["sn"] == 0 and by["gp"] == 8 and by["baseline"] == 5 and by["gp+sn"] == 0


def _report(tmp_path, metric: str, **kw):
    frame = points_frame(**kw)
    data = store_data(frame, tmp_path, metric="modes", goal="max")
    data.metric = metric
    rep = analyse(data, "cmd", "uri")  # the documents without plots: fast
    return rep, markdown.document(rep), latex.document(rep)


def test_modes_hq_ranks_noise_low_and_states_its_rule(tmp_path):
    rep, md, tex = _report(tmp_path, "modes_hq")
    ranked = rep.groups[0].ranked
    assert list(ranked["cell"])[:2] == ["gp", "baseline"] and ranked["cell"].iloc[-1] in (
        "sn", "gp+sn")
    head = _md_tables(md)[0][0]
    for col in ("hq %", "rKL", "modes", "undefined", "wall s", "D steps", "G steps"):
        assert f"| {col} |" in head, head
    assert "counted only when at least 50% of its samples are high-quality" in md
    sn = next(r for r in _md_tables(md)[0] if "| sn (floor) |" in r)
    assert "| 2 |" in sn and "| 22 |" in sn  # hq 2%, 22 plain modes beside a 0
    assert "hq % (ref → trt)" in _md_tables(md)[1][0]
    assert "D steps differ up to 5× between cells" in md and "FLOPs are not counted" in md
    assert "modes\\_hq" in tex and "50\\%" in tex


def test_ranking_by_plain_modes_still_works_and_warns(tmp_path):
    rep, md, _ = _report(tmp_path, "modes")
    assert rep.groups[0].ranked["cell"].iloc[0] == "sn"  # what the user asked for
    assert "Modes alone rewards noise" in md and "| hq % |" in _md_tables(md)[0][0]


def test_runs_without_cost_metrics_get_no_cost_columns_and_a_sentence(tmp_path):
    _, md, _ = _report(tmp_path, "modes_hq", costs=False)
    assert "wall s" not in _md_tables(md)[0][0]
    assert "recorded without cost metrics" in md


def test_fewer_than_three_seeds_is_a_warning_at_the_top(tmp_path):
    frame = points_frame(seeds=range(2))
    data = store_data(frame, tmp_path, metric="modes", goal="max")
    data.seeds = [0, 1]
    rep = analyse(data, "cmd", "uri")
    assert rep.warnings and "Only 2 seed(s) per cell" in rep.warnings[0]
    md = markdown.document(rep)
    assert md.index("**Warning.**") < md.index("## Ranked cells")
    assert "smallest attainable p is 0.5" in md
