"""Ranked summary tables from a runs DataFrame shaped like MLflowStore.runs_frame()."""

from __future__ import annotations

import math

import pandas as pd

from ganbench.report.tables import latest_attempts

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
