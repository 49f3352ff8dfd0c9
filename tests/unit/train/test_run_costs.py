"""What a run logs at its end for the report: costs (wall time, D and G steps) and which
final metrics are undefined (MLflow drops NaN, so the tag is the only trace)."""

from __future__ import annotations

import math

from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train

from .test_loop import cfg_of


def test_a_run_logs_its_cost_once_at_the_end(tmp_path):
    tracker = MemoryTracker()
    train(cfg_of(tmp_path, tricks={"n_critic": {"steps": 5}}), tracker=tracker)
    assert tracker.history("cost/d_steps") == [(20, 100.0)]  # 5 D steps per G step
    assert tracker.history("cost/g_steps") == [(20, 20.0)]
    (step, seconds), = tracker.history("perf/seconds")
    assert step == 20 and seconds > 0


def test_undefined_finals_are_named_in_a_tag(tmp_path, monkeypatch):
    tracker = MemoryTracker()
    train(cfg_of(tmp_path), tracker=tracker)
    assert tracker.tags["undefined_final"] == "none" or "reverse_kl" in tracker.tags[
        "undefined_final"]
    nothing_hq = {"modes": 0, "modes_hq": 0, "hq": 0.0, "reverse_kl": math.nan,
                  "mode_score": 0.0}
    monkeypatch.setattr(Trainer, "evaluate", lambda self, g=None: dict(nothing_hq))
    tracker = MemoryTracker()
    train(cfg_of(tmp_path), tracker=tracker)
    assert tracker.tags["undefined_final"] == "reverse_kl"
    assert tracker.history("eval/modes/final") == [(20, 0.0)]
