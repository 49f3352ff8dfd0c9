"""A sweep's phases: the runner and worker ask them instead of branching on tuning. A plain
sweep queues exactly its planned runs and gives an idle worker nothing of its own; a tuned
sweep is recognised from its file and from its queue's record, refuses sequential seeds, and
a lost search trial (known from its own attributes) is re-run whole."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ganbench
from ganbench.config import SweepSpec
from ganbench.specs.plan import plan
from ganbench.sweep import phases
from ganbench.sweep.job import Job
from ganbench.sweep.tune import ROLE

BASE = {"dataset": "ring8", "steps": 4, "batch_size": 8}
PLAIN = SweepSpec.model_validate({"name": "p", "base": BASE, "tricks": {"ttur": ["off", "on"]},
                                  "seeds": 2})
TUNED = SweepSpec.model_validate({**PLAIN.model_dump(), "tune": {
    "space": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}}, "budget": 2}})


def test_a_plain_sweep_queues_its_planned_runs_and_nothing_else():
    p = plan(PLAIN)
    ph = phases.for_spec(PLAIN)
    assert type(ph) is phases.Phases and ph.meta() == {} and ph.run_tags() == {}
    attrs = ph.queued(p, queue=None)
    assert [Job.from_attrs(a).run_key for a in attrs] == [r.run_key for r in p.runs]
    assert ph.keys(p, queue=None) == [r.run_key for r in p.runs]
    assert ph.open_work(None) == 0 and ph.events(None, set()) == []
    assert ph.when_idle(None, "", exit_when_empty=True) is None
    assert ph.sequential_problem() is None
    rows = ph.plan_rows(p)
    assert [r["seed"] for r in rows] == [0, 1, 0, 1]


def test_a_tuned_sweep_is_known_from_its_file_and_from_its_queue_record():
    assert isinstance(phases.for_spec(TUNED), phases.Tuned)
    assert isinstance(phases.of_meta({"tune": {"cells": []}}), phases.Tuned)
    assert type(phases.of_meta({"metric": "modes"})) is phases.Phases
    assert "final phase" in phases.for_spec(TUNED).sequential_problem()
    assert phases.Tuned({"cells": []}).run_tags() == {"ganbench.phase": "final"}
    rows = phases.Tuned().plan_rows(plan(TUNED))
    assert rows and all(r["tuned"] and "seed" not in r for r in rows)


@pytest.mark.parametrize("attrs,whole", [({ROLE: "search"}, True), ({"run_key": "k"}, False),
                                         ({}, False)])
def test_a_lost_search_trial_is_rerun_whole(attrs, whole):
    assert phases.rerun_lost(attrs) is whole


@pytest.mark.parametrize("module", ["runner", "worker"])
def test_the_runner_and_worker_do_not_name_tuning(module):
    """The seam holds: neither imports a tuning module nor reads the `tune` record."""
    path = Path(ganbench.__file__).parent / "sweep" / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names} | {n.module or "" for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if "tune" in m}, imported
    reads = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "tune"]
    assert not reads, f"{module}.py reads the 'tune' record at line {reads[0].lineno}"
