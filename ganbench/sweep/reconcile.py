"""Where the queue (the Optuna study) and the record (MLflow) disagree, for `ganbench status`.

The record is the source of truth for "has a result"; `ganbench sweep FILE` reconciles the
queue with it on every start (Queue.sync with `recorded`). Status only reports.
"""

from __future__ import annotations

from ganbench.store.mlflow import RUN_KEY, MLflowStore
from ganbench.sweep.scheduler import Queue
from ganbench.sweep.trials import has_result, latest


def disagreements(queue: Queue, store: MLflowStore, metric: str, limit: int = 5) -> list[str]:
    """One line per disagreement (at most `limit`, then a count of the rest)."""
    exp = store.find_experiment(queue.study.study_name)
    if exp is None:
        return [f"the MLflow record at {store.uri} has no sweep {queue.study.study_name!r}: "
                "its results are gone; `ganbench sweep FILE` re-runs them"]
    recorded = store.results(exp, metric)
    last = latest(queue.trials())
    out = []
    for key, t in sorted(last.items(), key=lambda kt: kt[1].number):
        name = t.user_attrs.get("run_name", key)
        if has_result(t) and key not in recorded:
            out.append(f"{name}: a result in the queue, none in the MLflow record (deleted or "
                       "another store?)")
        elif key in recorded and not has_result(t):
            state = t.state.name.lower()
            out.append(f"{name}: finished in the MLflow record, {state} in the queue (its "
                       "worker stopped as it finished)")
    frame = store.runs_frame(exp)
    if not frame.empty and f"tags.{RUN_KEY}" in frame:
        fin = frame[frame["mlflow_status"] == "FINISHED"]
        for key, n in fin[f"tags.{RUN_KEY}"].value_counts().items():
            if n > 1:
                out.append(f"run key {key}: {n} FINISHED MLflow runs (one is expected)")
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more"]
    return out
