"""Ranked summary tables from a runs DataFrame shaped like MLflowStore.runs_frame()."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ganbench.report.tables import latest_attempts, markdown_table, summary_table

KEY, CELL, STATUS, METRIC = ("tags.ganbench.run_key", "tags.ganbench.cell", "tags.status",
                             "metrics.eval/modes")
COLUMNS = ["run_id", "mlflow_status", "run_name", KEY, CELL, STATUS, METRIC]
_MLFLOW = {"finished": "FINISHED", "diverged": "FINISHED", "killed": "KILLED",
           "error": "FAILED", None: "RUNNING"}


def frame(*runs: tuple[str, str, int, str | None, float | None]) -> pd.DataFrame:
    """Each run: (cell, run key, seed, status tag or None, metric or None)."""
    rows = []
    for i, (cell, key, seed, status, value) in enumerate(runs):
        rows.append({
            "run_id": f"r{i:03d}",
            "mlflow_status": _MLFLOW[status],
            "run_name": f"{cell} · s{seed}",
            KEY: key,
            CELL: cell,
            STATUS: status,
            METRIC: math.nan if value is None else float(value),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def row(table: pd.DataFrame, cell: str) -> pd.Series:
    hits = table[table["cell"] == cell]
    assert len(hits) == 1, f"{len(hits)} rows for cell {cell!r}"
    return hits.iloc[0]


# ------------------------------------------------------------------ latest_attempts


def test_latest_attempts_prefers_a_result_over_a_later_or_earlier_kill():
    runs = frame(
        ("sn", "k1", 0, "killed", None),
        ("sn", "k1", 0, "finished", 7.0),
        ("sn", "k2", 1, "finished", 6.0),
        ("sn", "k2", 1, "killed", 2.0),  # a later retry that was killed: result still wins
    )
    out = latest_attempts(runs)
    assert len(out) == 2
    assert sorted(out[KEY]) == ["k1", "k2"]
    assert set(out["status"]) == {"finished"}
    assert sorted(out[METRIC]) == [6.0, 7.0]


def test_latest_attempts_keeps_the_last_try_when_none_has_a_result():
    runs = frame(("sn", "k1", 0, "killed", None), ("sn", "k1", 0, "error", None))
    out = latest_attempts(runs)
    assert len(out) == 1
    assert out.iloc[0]["status"] == "error"


def test_latest_attempts_missing_status_tag_reads_as_running():
    out = latest_attempts(frame(("sn", "k1", 0, None, None)))
    assert out.iloc[0]["status"] == "running"


def test_latest_attempts_of_empty_frame_is_empty():
    assert latest_attempts(pd.DataFrame()).empty


# ------------------------------------------------------------------ summary_table


def test_mean_and_std_over_finished_runs_only():
    runs = frame(
        ("sn", "a0", 0, "finished", 6.0),
        ("sn", "a1", 1, "finished", 8.0),
        ("sn", "a2", 2, "diverged", 100.0),  # an early eval logged before divergence
        ("sn", "a3", 3, "error", 50.0),
    )
    t = summary_table(runs, "modes", "max", cells=["sn"])
    r = row(t, "sn")
    assert r["mean"] == pytest.approx(7.0)
    assert r["std"] == pytest.approx(math.sqrt(2.0))  # sample std (ddof=1) of 6, 8
    assert (r["n_finished"], r["n_diverged"], r["n_failed"]) == (2, 1, 1)


def test_single_finished_seed_has_nan_std():
    t = summary_table(frame(("sn", "a0", 0, "finished", 5.0)), "modes", "max", cells=["sn"])
    r = row(t, "sn")
    assert r["mean"] == 5.0 and math.isnan(r["std"])


def test_killed_then_finished_attempt_counts_once_as_finished():
    runs = frame(
        ("sn", "k0", 0, "killed", None),
        ("sn", "k0", 0, "finished", 4.0),
        ("sn", "k1", 1, "finished", 6.0),
    )
    r = row(summary_table(runs, "modes", "max", cells=["sn"]), "sn")
    assert (r["n_finished"], r["n_diverged"], r["n_failed"]) == (2, 0, 0)
    assert r["mean"] == pytest.approx(5.0)


def test_goal_max_ranks_highest_first():
    runs = frame(("lo", "a", 0, "finished", 1.0), ("hi", "b", 0, "finished", 8.0),
                 ("mid", "c", 0, "finished", 4.0))
    t = summary_table(runs, "modes", "max", cells=["lo", "hi", "mid"])
    assert list(t["cell"]) == ["hi", "mid", "lo"]
    assert list(t["rank"]) == [1, 2, 3]
    assert t.attrs == {"metric": "modes", "goal": "max"}


def test_goal_min_ranks_lowest_first():
    runs = frame(("lo", "a", 0, "finished", 1.0), ("hi", "b", 0, "finished", 8.0),
                 ("mid", "c", 0, "finished", 4.0))
    t = summary_table(runs, "modes", "min", cells=["lo", "hi", "mid"])
    assert list(t["cell"]) == ["lo", "mid", "hi"]
    assert list(t["rank"]) == [1, 2, 3]


def test_ties_share_a_rank():
    runs = frame(("a", "1", 0, "finished", 5.0), ("b", "2", 0, "finished", 5.0),
                 ("c", "3", 0, "finished", 2.0))
    t = summary_table(runs, "modes", "max", cells=["a", "b", "c"])
    assert row(t, "a")["rank"] == row(t, "b")["rank"] == 1
    assert row(t, "c")["rank"] == 3  # competition ranking: 1, 1, 3


def test_cell_without_finished_runs_has_nan_mean_and_is_last():
    runs = frame(
        ("dead", "d0", 0, "diverged", None),
        ("dead", "d1", 1, "diverged", None),
        ("bad", "b0", 0, "finished", 1.0),
        ("good", "g0", 0, "finished", 8.0),
    )
    t = summary_table(runs, "modes", "max", cells=["dead", "bad", "good", "never_ran"])
    assert list(t["cell"][:2]) == ["good", "bad"]
    assert set(t["cell"][2:]) == {"dead", "never_ran"}
    for cell in ("dead", "never_ran"):
        r = row(t, cell)
        assert math.isnan(r["mean"]) and math.isnan(r["rank"])
        assert r["n_finished"] == 0
    assert row(t, "dead")["n_diverged"] == 2
    assert row(t, "never_ran")[["n_diverged", "n_failed"]].tolist() == [0, 0]


def test_planned_cells_with_an_empty_store():
    t = summary_table(pd.DataFrame(), "modes", "max", cells=["baseline", "sn"])
    assert sorted(t["cell"]) == ["baseline", "sn"]
    assert t["mean"].isna().all() and (t["n_finished"] == 0).all()


def test_metric_column_absent_gives_nan_mean():
    runs = frame(("sn", "a", 0, "finished", 3.0)).drop(columns=METRIC)
    r = row(summary_table(runs, "modes", "max", cells=["sn"]), "sn")
    assert math.isnan(r["mean"]) and r["n_finished"] == 1


def test_without_cells_one_row_per_cell():
    runs = frame(
        ("sn", "a0", 0, "finished", 6.0),
        ("sn", "a1", 1, "finished", 8.0),
        ("baseline", "b0", 0, "finished", 2.0),
        ("baseline", "b1", 1, "finished", 4.0),
    )
    t = summary_table(runs, "modes", "max")
    assert list(t["cell"]) == ["sn", "baseline"]


# ------------------------------------------------------------------ markdown_table


def test_markdown_has_header_and_one_row_per_cell():
    runs = frame(
        ("sn", "a0", 0, "finished", 6.0),
        ("sn", "a1", 1, "finished", 8.0),
        ("baseline", "b0", 0, "diverged", None),
        ("gp", "c0", 0, "finished", 3.0),
    )
    t = summary_table(runs, "modes", "max", cells=["baseline", "sn", "gp"])
    lines = markdown_table(t).splitlines()
    assert len(lines) == 2 + 3
    assert lines[0] == "| rank | cell | modes mean ± std | finished | diverged | failed |"
    assert set(lines[1].replace("|", "")) == {"-"}
    assert lines[2] == "| 1 | sn | 7 ± 1.41 | 2 | 0 | 0 |"
    assert lines[3] == "| 2 | gp | 3 ± — | 1 | 0 | 0 |"
    assert lines[4] == "| — | baseline | — ± — | 0 | 1 | 0 |"
    assert all(line.count("|") == 7 for line in lines)
