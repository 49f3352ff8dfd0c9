"""Tables from a runs DataFrame (one row per MLflow child run; see store/mlflow.py).

Pure functions; report/stats.py ranks and tests on top of the runs these select.
"""

from __future__ import annotations

import pandas as pd


def latest_attempts(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run key: its result if it has one (finished/diverged), else its last try."""
    if runs.empty:
        return runs
    runs = runs.copy()
    status = runs.get("tags.status", pd.Series("unknown", index=runs.index)).fillna("running")
    runs["status"] = status
    runs["_has_result"] = runs["status"].isin(["finished", "diverged"])
    runs = runs.sort_values(["_has_result"], kind="stable")
    return runs.drop_duplicates("tags.ganbench.run_key", keep="last").drop(columns="_has_result")
