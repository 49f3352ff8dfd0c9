"""Sequential seeds end to end: a Dirac-GAN sweep (issue's ring8 check made cheap: the
Dirac-GAN's runs take a second) with one trick of large effect (R1: every seed converges,
the baseline circles) and one of none (aa_null changes nothing: every difference is 0),
`seeds: {min: 3, max: 10}`. The large one is decided early (7 paired seeds, the first look
Holm's α/2 allows), the null one runs to max and is reported open; killed mid-round and
resumed, the sweep makes the same decisions with no run twice."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from helpers.procs import ganbench, kill_group, wait_until

from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow

PLUGIN = Path(__file__).parents[2] / "benchmarks" / "calibration" / "calibration_tricks.py"
SPEC = f"""
name: seq
plugins: [{PLUGIN}]
base:
  dataset: dirac
  model: dirac_circle
  steps: 200
  batch_size: 16
  lr: 0.2
  log_every: 100
  eval_every: 20
  tricks:
    gradient_descent: {{}}
tricks:
  r1: [off, {{gamma: 0.3}}]
  aa_null: [off, on]
design: one-at-a-time
seeds: {{min: 3, max: 10}}
metric: {{name: dirac_dist, goal: min}}
"""


def _finished(res: Path) -> int:
    try:
        return Queue(str(res / "seq" / "study.journal"), "seq").counts()["finished"]
    except Exception:  # study not created yet
        return 0


def test_a_large_effect_is_decided_early_and_a_null_runs_to_max_across_a_kill(
        tmp_path, sweep_file):
    spec = sweep_file(SPEC)
    res = tmp_path / "results"
    args = ("sweep", str(spec), "--results", str(res), "--workers", "1", "--device", "cpu")
    first = ganbench(*args, cwd=tmp_path)
    # round 1 is 9 runs (3 cells x 3 seeds); kill inside round 2
    assert wait_until(lambda: _finished(res) >= 10, timeout=600), first.stdout
    kill_group(first, signal.SIGKILL)
    first.wait(timeout=120)
    done = _finished(res)
    assert 10 <= done < 27

    second = ganbench(*args, cwd=tmp_path)
    out, _ = second.communicate(timeout=900)
    assert second.returncode == 0, out
    assert f"{done} runs already have results" in out
    assert "r1: decided at 7 paired seeds" in out
    assert "aa_null: open at max (10 paired seeds)" in out
    # seeds spent: baseline and aa_null 10, r1 stopped at 7 (the fixed design: 30)
    q = Queue(str(res / "seq" / "study.journal"), "seq")
    keys = [t.user_attrs.get("run_key") for t in q.trials() if t.state.is_finished()
            and t.user_attrs.get("status") == "finished"]
    assert len(set(keys)) == 27
    report = (res / "seq" / "report.md").read_text()
    assert "with seeds added sequentially" in report
    assert "Seeds per cell: aa_null 10, baseline 10, r1 7" in report
    assert "decided at 7 paired seeds by the group-sequential test" in report
    assert "open at max: 10 paired seeds did not cross" in report

    status = ganbench("status", "seq", "--results", str(res), cwd=tmp_path)
    sout, _ = status.communicate(timeout=120)
    assert status.returncode == 0, sout
    assert "sequential seeds" in sout and "1 of 2 comparison(s) open" in sout
    assert "r1: decided at 7 paired seeds" in sout
