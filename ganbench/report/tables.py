"""Tables from a runs DataFrame (one row per MLflow child run; see tracking/mlflow.py).

Pure functions: the sweep's end-of-run summary; the full report builds on the same frame.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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


def summary_table(runs: pd.DataFrame, metric: str, goal: str,
                  cells: list[str] | None = None) -> pd.DataFrame:
    """Per cell: mean ± std of the final metric over finished seeds, counts, rank."""
    col = f"metrics.eval/{metric}"
    runs = latest_attempts(runs)
    rows = []
    if cells is not None:
        labels = cells
    elif "tags.ganbench.cell" in runs:
        labels = sorted(runs["tags.ganbench.cell"].dropna().unique())
    else:
        labels = []
    for label in labels:
        r = runs[runs["tags.ganbench.cell"] == label] if not runs.empty else runs
        fin = r[r["status"] == "finished"] if not r.empty else r
        vals = pd.to_numeric(fin[col], errors="coerce").dropna() if col in fin else pd.Series([])
        rows.append({
            "cell": label,
            "mean": vals.mean() if len(vals) else math.nan,
            "std": vals.std(ddof=1) if len(vals) > 1 else math.nan,
            "n_finished": int(len(fin)),
            "n_diverged": int((r["status"] == "diverged").sum()) if not r.empty else 0,
            "n_failed": int((~r["status"].isin(["finished", "diverged"])).sum())
            if not r.empty else 0,
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["rank"] = table["mean"].rank(ascending=goal == "min", method="min")
    table = table.sort_values(["rank", "cell"], na_position="last").reset_index(drop=True)
    table.attrs.update(metric=metric, goal=goal)
    return table


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.{digits}g}"
    return str(v)


def markdown_table(table: pd.DataFrame) -> str:
    metric = table.attrs.get("metric", "metric")
    head = ["rank", "cell", f"{metric} mean ± std", "finished", "diverged", "failed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        rank = "—" if math.isnan(r["rank"]) else str(int(r["rank"]))
        lines.append(f"| {rank} | {r['cell']} | {_fmt(r['mean'])} ± {_fmt(r['std'])} | "
                     f"{r['n_finished']} | {r['n_diverged']} | {r['n_failed']} |")
    return "\n".join(lines)


def write_summary(table: pd.DataFrame, folder: Path, spec, command: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, csv = folder / "summary.md", folder / "summary.csv"
    goal = "higher" if spec.metric.goal == "max" else "lower"
    md.write_text(
        f"# Sweep `{spec.name}`: summary\n\n"
        f"Ranked by final `{spec.metric.name}` ({goal} is better), mean ± std over finished "
        f"seeds; design `{spec.design}`, seeds {spec.seed_list}.\n"
        f"Diverged runs are results (counted, not ranked); failed = killed or errored.\n\n"
        f"{markdown_table(table)}\n\nProduced by: `{command}`\n"
    )
    table.to_csv(csv, index=False)
    return [md, csv]
