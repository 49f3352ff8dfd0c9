"""Shared storage (an RDB URL, heartbeats): a search trial whose worker died is failed by the
stale-heartbeat reaper, does not count, and is replaced once with the same drawn values;
the cell still ends with exactly `budget` counted trials."""

from __future__ import annotations

import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

from ganbench.sweep import tune
from ganbench.sweep.runner import SweepOptions, prepare, worker_contexts
from ganbench.sweep.scheduler import Queue
from ganbench.sweep.storage import Liveness, open_storage
from ganbench.sweep.tune_worker import suggest
from ganbench.sweep.worker import work

pytestmark = pytest.mark.slow

SPEC = """
name: shared
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 16, log_every: 10, eval_every: 10,
       eval_samples: 64}
seeds: [0]
metric: {name: modes, goal: max}
tune:
  budget: 3
  sampler: random
  space:
    lr: {low: 1.0e-4, high: 1.0e-2, log: true}
"""


def test_a_dead_workers_trial_is_replaced_with_its_values(tmp_path):
    spec = tmp_path / "shared.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    live = Liveness(interval=1, grace=2)
    opts = SweepOptions(results=tmp_path / "runs", storage=url, workers=1, device="cpu",
                        checkpoint_every=0, liveness=live, exit_when_empty=True)
    sw = prepare(spec, opts)
    meta = sw.queue.meta["tune"]
    # A worker that claims a trial, draws its values, then dies (no more heartbeats).
    dead = Queue(url, "shared", None, liveness=live)
    cm, study, job = tune.claim(dead, meta)
    drawn = suggest(optuna.Trial(study, job.trial_id), cm["space"])
    time.sleep(live.grace + 1.5)
    work(worker_contexts(sw, opts, ["cpu"], threads=1)[0])
    trials = optuna.load_study(study_name="shared/tune/baseline",
                               storage=open_storage(url)).trials
    lost = [t for t in trials if t.number == job.number][0]
    assert lost.state == TrialState.FAIL and not tune.counted(lost)
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == job.number]
    assert len(retry) == 1 and retry[0].params == {"lr": drawn["lr"]}
    assert retry[0].state == TrialState.COMPLETE
    assert sum(tune.counted(t) for t in trials) == 3 and len(trials) == 4
    assert sw.queue.counts()["finished"] == 1  # then the final phase ran
