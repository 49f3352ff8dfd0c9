"""The job record: one planned run as it travels from the controller to a worker.

A planned run is an Optuna trial whose user attributes are `Job.to_attrs()`; a worker reads
its claimed trial back with `Job.from_attrs()`. These keys are written nowhere else. A trial
also gathers outcome attributes (status, mlflow_run_id, ...) that are not part of the job.

Studies enqueued by releases before `trick_list` was a key still load: their trick list is
the part of the cell label before " · " (how those releases built it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganbench.config import RunConfig

if TYPE_CHECKING:
    from ganbench.specs.plan import PlannedRun

# The attributes of a planned run; a retry carries these and, of the failed attempts, only
# their MLflow run ids (where their checkpoints are).
PLANNED = ("run_key", "cell_id", "cell", "run_name", "seed", "config", "trick_list")
ATTEMPTS = "attempt_runs"
TUNE_KEYS = ("tune_role",)  # a tuned cell's search trial (sweep/tune.py): kept on a retry
_AXES_SEP = " · "  # between a cell label's trick list and its axis values


@dataclass(frozen=True)
class Job:
    run_key: str  # digest of the run's identity (planner.canonical)
    cell_id: str  # the same without the seed: the seeds of one cell share it
    cell: str  # the cell's label, for people ("sn+gp10 · loss=hinge")
    run_name: str  # the MLflow run name ("sn+gp10 · s3")
    seed: int
    config: str  # the RunConfig as JSON, exactly as planned
    trick_list: str  # the label's trick part ("sn+gp10", "baseline"), an MLflow param
    attempts: tuple[str, ...] = ()  # MLflow runs of earlier attempts, newest last

    @classmethod
    def planned(cls, run: PlannedRun) -> Job:
        return cls(run.run_key, run.cell.cell_id, run.cell.label, run.run_name, run.seed,
                   run.config.model_dump_json(), run.cell.trick_list)

    def to_attrs(self) -> dict[str, Any]:
        attrs = {"run_key": self.run_key, "cell_id": self.cell_id, "cell": self.cell,
                 "run_name": self.run_name, "seed": self.seed, "config": self.config,
                 "trick_list": self.trick_list}
        if self.attempts:
            attrs[ATTEMPTS] = list(self.attempts)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Job:
        trick_list = attrs.get("trick_list")
        if trick_list is None:  # enqueued before trick_list was a key
            trick_list = attrs["cell"].split(_AXES_SEP)[0]
        return cls(attrs["run_key"], attrs["cell_id"], attrs["cell"], attrs["run_name"],
                   int(attrs["seed"]), attrs["config"], trick_list,
                   tuple(attrs.get(ATTEMPTS, ())))

    def run_config(self) -> RunConfig:
        return RunConfig.model_validate_json(self.config)

    @property
    def is_retry(self) -> bool:
        """A retry resumes its attempts' checkpoints alone (never stacked)."""
        return bool(self.attempts)


def retry_attrs(a: dict[str, Any]) -> dict[str, Any]:
    """A retry's attributes: the planned run plus the MLflow runs of every attempt so far.
    Works on any trial's attributes (keys it lacks stay absent)."""
    runs = list(a.get(ATTEMPTS, [])) + ([a["mlflow_run_id"]] if a.get("mlflow_run_id") else [])
    retry = {k: a[k] for k in PLANNED + TUNE_KEYS if k in a}
    if runs:
        retry[ATTEMPTS] = runs
    return retry


__all__ = ["ATTEMPTS", "PLANNED", "TUNE_KEYS", "Job", "retry_attrs"]
