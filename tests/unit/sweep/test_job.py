"""The job record (sweep/job.py): one typed Job, written and read through to/from_attrs, and
studies enqueued before `trick_list` was a key still load; designs come from a registry."""

from __future__ import annotations

import json

import pytest

from ganbench.config import RunConfig, SweepSpec
from ganbench.specs.designs import DESIGNS, Design
from ganbench.specs.plan import plan
from ganbench.sweep.job import ATTEMPTS, Job, retry_attrs
from ganbench.sweep.phases import Phases
from ganbench.sweep.scheduler import Queue

SPEC = SweepSpec.model_validate({
    "name": "t", "seeds": 2,
    "tricks": {"spectral_norm": ["off", "on"], "gradient_penalty": ["off", {"weight": 1},
                                                                      {"weight": 10}]},
    "axes": {"loss": ["ns", "hinge"]},
})
# What the code before the Job record wrote for a planned run (and for its retry).
TODAY = {"run_key": "0123456789ab", "cell_id": "ba9876543210", "cell": "sn+gp10 · loss=hinge",
         "run_name": "sn+gp10 · loss=hinge · s3", "seed": 3,
         "config": RunConfig(seed=3).model_dump_json()}


def test_a_planned_run_round_trips_through_its_attributes():
    p = plan(SPEC)
    for run, attrs in zip(p.runs, Phases().queued(p, None), strict=True):
        job = Job.from_attrs(attrs)
        assert job == Job.planned(run) and job.to_attrs() == attrs
        assert job.run_config() == run.config and not job.is_retry
        assert json.loads(json.dumps(attrs)) == attrs  # what a journal stores
    assert {Job.from_attrs(a).trick_list for a in Phases().queued(p, None)} == {
        "baseline", "sn", "gp1", "gp10", "gp1+sn", "gp10+sn"}


def test_the_attribute_layout_keeps_todays_keys():
    attrs = Phases().queued(plan(SPEC), None)[-1]
    assert list(attrs) == ["run_key", "cell_id", "cell", "run_name", "seed", "config",
                           "trick_list"]
    assert attrs["cell"] == "gp10+sn · loss=hinge" and attrs["trick_list"] == "gp10+sn"


def test_attributes_written_before_the_job_record_still_load():
    job = Job.from_attrs(TODAY)
    assert (job.run_key, job.cell_id, job.cell, job.run_name, job.seed) == (
        "0123456789ab", "ba9876543210", "sn+gp10 · loss=hinge", "sn+gp10 · loss=hinge · s3", 3)
    assert job.trick_list == "sn+gp10" and job.attempts == () and job.run_config().seed == 3
    retry = Job.from_attrs({**TODAY, ATTEMPTS: ["r1", "r2"], "status": "killed"})
    assert retry.attempts == ("r1", "r2") and retry.is_retry
    assert retry.to_attrs() == {**TODAY, "trick_list": "sn+gp10", ATTEMPTS: ["r1", "r2"]}
    assert Job.from_attrs({**TODAY, "cell": "baseline"}).trick_list == "baseline"


def test_a_retry_keeps_the_planned_keys_it_has_and_every_attempt():
    old = {**TODAY, ATTEMPTS: ["r1"], "mlflow_run_id": "r2", "status": "lost", "worker": "h:1"}
    assert retry_attrs(old) == {**TODAY, ATTEMPTS: ["r1", "r2"]}  # an old trial: no trick_list
    assert retry_attrs({"run_key": "k", "mlflow_run_id": "r"}) == {"run_key": "k",
                                                                   ATTEMPTS: ["r"]}
    assert retry_attrs({"run_key": "k"}) == {"run_key": "k"}


def test_a_worker_reads_a_claimed_trial_of_an_old_study_as_a_job(tmp_path):
    q = Queue(str(tmp_path / "study.journal"), "t")
    q.sync([TODAY])  # enqueued by the code before the Job record
    claimed = Queue(str(tmp_path / "study.journal"), "t", None).claim()
    assert claimed is not None and claimed.job == Job.from_attrs(TODAY)
    assert claimed.job.trick_list == "sn+gp10"


def test_every_design_a_sweep_file_may_name_is_a_registered_strategy():
    # `design:` is any registered name (no list of them in the schema)
    assert SweepSpec.model_fields["design"].default in DESIGNS
    for name in DESIGNS.names():
        assert issubclass(DESIGNS.get(name), Design)
    with pytest.raises(ValueError, match="unknown design 'ful'; did you mean 'full'"):
        DESIGNS.get("ful")
