"""A tuned CPU sweep SIGKILLed mid-search (controller and workers) and run again finishes with
exactly `budget` counted trials per cell: nothing finished is re-run, and each trial the kill
interrupted is replaced once."""

from __future__ import annotations

import signal
import textwrap

import optuna
import pytest
from helpers.procs import ganbench, kill_group, wait_until
from optuna.trial import TrialState

from ganbench.sweep.storage import open_storage
from ganbench.sweep.tune import counted

pytestmark = pytest.mark.slow

BUDGET = 3
SPEC = f"""
name: tkill
base: {{dataset: ring8, model: mlp, steps: 400, batch_size: 32, lr: 2.0e-3, log_every: 50,
       eval_every: 200, eval_samples: 128}}
tricks:
  label_smoothing: [off, on]
seeds: [0]
metric: {{name: modes, goal: max}}
tune:
  budget: {BUDGET}
  sampler: random
  space:
    lr: {{low: 1.0e-4, high: 1.0e-2, log: true}}
"""
CELLS = ("tkill/tune/baseline", "tkill/tune/ls")


def trials(journal):
    if not journal.exists():
        return {}
    storage = open_storage(str(journal))
    names = set(optuna.get_all_study_names(storage))
    return {n: optuna.load_study(study_name=n, storage=storage).trials
            for n in CELLS if n in names}


def test_killed_search_resumes_to_exactly_the_budget(tmp_path):
    spec = tmp_path / "tkill.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    res = tmp_path / "runs"
    journal = res / "tkill" / "study.journal"
    args = ("sweep", str(spec), "--results", str(res), "--workers", "2", "--device", "cpu")
    first = ganbench(*args, cwd=tmp_path)

    def mid_search() -> bool:
        ts = [t for ts in trials(journal).values() for t in ts]
        return (any(t.state == TrialState.COMPLETE for t in ts)
                and any(t.state == TrialState.RUNNING for t in ts))

    try:
        assert wait_until(mid_search, timeout=400, every=0.3), first.stdout
    finally:
        kill_group(first, signal.SIGKILL)
        first.wait(timeout=60)
    before = {n: {t.number: t.value for t in ts if t.state == TrialState.COMPLETE}
              for n, ts in trials(journal).items()}
    second = ganbench(*args, cwd=tmp_path)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    after = trials(journal)
    assert set(after) == set(CELLS)
    for name, ts in after.items():
        assert sum(counted(t) for t in ts) == BUDGET, (name, ts)
        assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in ts)
        done = {t.number: t.value for t in ts if t.state == TrialState.COMPLETE}
        assert before.get(name, {}).items() <= done.items()  # finished ones kept as they were
        replaced = [t for t in ts if not counted(t)]
        assert all(t.user_attrs["status"] == "interrupted" for t in replaced)
        assert len(ts) == BUDGET + len(replaced)
    assert "Tuning (budget-fair comparison)" in (res / "tkill" / "report.md").read_text()
