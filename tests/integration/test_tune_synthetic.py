"""A tuned sweep on a synthetic objective with a known optimum, run by two workers at once.

Training is real (tiny ring8 runs) but the ranking metric is replaced by a known function of
the learning rate: the baseline peaks at its default lr (5.0 at 2e-3), label smoothing peaks
higher at a lower lr (8.0 at 2e-4) but is worse at the default (4.0). So the untuned ranking
puts the baseline first and the tuned one label smoothing, by construction.
"""

from __future__ import annotations

import math
import textwrap
import threading
from dataclasses import replace

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

import ganbench.sweep.tune_worker as tune_worker
import ganbench.sweep.worker as worker
from ganbench.specs.tune import SEARCH_SEED_BASE
from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.runner import SweepOptions, prepare, summarise, worker_contexts
from ganbench.sweep.storage import open_storage
from ganbench.train import train as real_train

pytestmark = pytest.mark.slow

BUDGET = 8
SPEC = f"""
name: synth
base: {{dataset: ring8, model: mlp, steps: 20, batch_size: 16, lr: 2.0e-3, log_every: 10,
       eval_every: 10, eval_samples: 64}}
tricks:
  label_smoothing: [off, on]
seeds: [0, 1]
metric: {{name: modes_hq, goal: max}}
tune:
  budget: {BUDGET}
  sampler: random
  seed: 3
  space:
    lr: {{low: 1.0e-4, high: 1.0e-2, log: true}}
"""


def objective(cfg) -> float:
    peak, height = (2e-4, 8.0) if "label_smoothing" in cfg.tricks else (2e-3, 5.0)
    return height - 4 * abs(math.log10(cfg.lr) - math.log10(peak))


class Rewrite:
    """The run's tracker, with the ranking metric replaced by the objective."""

    def __init__(self, tracker, value: float, steps: int) -> None:
        self._t, self._v, self._steps = tracker, value, steps

    def log_metrics(self, values, step):
        out = dict(values)
        for k in list(out):
            if k in ("eval/modes_hq/final", "eval/modes_hq/best"):
                out[k] = self._v
            elif k == "eval/modes_hq":
                out[k] = self._v * step / self._steps
        return self._t.log_metrics(out, step)

    def __getattr__(self, name):
        return getattr(self._t, name)


def fake_train(cfg, tracker=None, progress=None, checkpoints=None):
    v = objective(cfg)

    def report(p):
        if p.metrics:
            p = replace(p, metrics={**p.metrics, "modes_hq": v * p.step / p.total})
        progress(p)

    res = real_train(cfg, Rewrite(tracker, v, cfg.steps) if tracker else None,
                     progress=report if progress else None, checkpoints=checkpoints)
    res.metrics["modes_hq"] = v
    return res


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(tune_worker, "train", fake_train)
    mp.setattr(worker, "train", fake_train)
    tmp = tmp_path_factory.mktemp("synth")
    spec = tmp / "synth.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    opts = SweepOptions(results=tmp / "runs", workers=2, device="cpu", checkpoint_every=0)
    sw = prepare(spec, opts)
    errors = []

    def run(ctx):
        try:
            worker.work(ctx)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,))
               for c in worker_contexts(sw, opts, ["cpu", "cpu"], threads=1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    rep = summarise(sw, command="test")
    mp.undo()
    yield sw, rep, tmp


def studies(sw):
    storage = open_storage(sw.storage)
    return storage, {n: optuna.load_study(study_name=n, storage=storage)
                     for n in optuna.get_all_study_names(storage)}


def test_load_study_gives_one_study_per_cell_with_exactly_the_budget(swept):
    sw, _, _ = swept
    _, found = studies(sw)
    assert set(found) == {"synth", "synth/tune/baseline", "synth/tune/ls"}
    for name in ("synth/tune/baseline", "synth/tune/ls"):
        trials = found[name].trials
        assert len(trials) == BUDGET  # two workers at once: no overshoot
        assert all(t.state == TrialState.COMPLETE for t in trials)
        assert trials[0].params == {"lr": 2e-3} and trials[0].user_attrs["tune_role"] == "default"
        assert len({t.params["lr"] for t in trials}) == BUDGET  # each trial its own draw


def test_final_phase_is_each_cells_best_on_fresh_seeds(swept):
    sw, _, tmp = swept
    _, found = studies(sw)
    client = MlflowClient(default_tracking_uri(tmp / "runs"))
    exp = client.get_experiment_by_name("synth")
    runs = client.search_runs([exp.experiment_id], "tags.`ganbench.role` = 'run'",
                              max_results=1000)
    final = [r for r in runs if r.data.tags.get("ganbench.phase") == "final"]
    search = [r for r in runs if r.data.tags.get("ganbench.phase") == "search"]
    assert len(search) == 2 * BUDGET and len(final) == 2 * 2
    assert {int(r.data.params["seed"]) for r in search} == {SEARCH_SEED_BASE}
    for label in ("baseline", "ls"):
        best = found[f"synth/tune/{label}"].best_trial
        mine = [r for r in final if r.data.tags["ganbench.cell"] == label]
        assert sorted(int(r.data.params["seed"]) for r in mine) == [0, 1]
        assert all(float(r.data.params["lr"]) == pytest.approx(best.params["lr"]) for r in mine)
        assert all(r.info.status == "FINISHED" for r in mine)


def test_tuning_reverses_the_untuned_ranking(swept):
    _, rep, tmp = swept
    ranks = rep.tuning.ranks.set_index("cell")
    assert ranks.loc["baseline", "untuned_rank"] == 1 and ranks.loc["ls", "untuned_rank"] == 2
    assert ranks.loc["ls", "tuned_rank"] == 1 and ranks.loc["baseline", "tuned_rank"] == 2
    assert ranks["moved"].all()
    g = rep.groups[0]
    assert list(g.ranked["n_runs"]) == [2, 2]  # phase 2 only
    # each cell's own best lr is not a factor of the design: only the trick is
    assert set(g.factorial.table["term"]) == {"label_smoothing"}
    text = (tmp / "runs" / "synth" / "report.md").read_text()
    assert "## Tuning (budget-fair comparison)" in text and "| moved |" in text
    assert "2 cell(s) ordered differently after tuning." in text


PRUNE_SPEC = """
name: prune
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 16, lr: 2.0e-3, log_every: 10,
       eval_every: 10, eval_samples: 64}
seeds: [0]
metric: {name: modes_hq, goal: max}
tune:
  budget: 10
  sampler: random
  seed: 5
  space:
    lr: {low: 1.0e-4, high: 1.0e-2, log: true}
  pruner: {name: median, warmup_steps: 0, startup_trials: 2}
"""
DIVERGES_ABOVE = 2.5e-3


def diverging_train(cfg, tracker=None, progress=None, checkpoints=None):
    if cfg.lr > DIVERGES_ABOVE:  # a known part of the space diverges (before any evaluation)
        res = fake_train(cfg, tracker, None, checkpoints)
        return replace(res, status="diverged", diverged_step=5, diverged_term="d/adv")
    return fake_train(cfg, tracker, progress, checkpoints)


def test_pruned_and_diverged_trials_spend_budget_and_are_never_rerun(tmp_path, monkeypatch):
    monkeypatch.setattr(tune_worker, "train", diverging_train)
    monkeypatch.setattr(worker, "train", diverging_train)
    spec = tmp_path / "prune.yaml"
    spec.write_text(textwrap.dedent(PRUNE_SPEC))
    opts = SweepOptions(results=tmp_path / "runs", workers=1, device="cpu", checkpoint_every=0)
    sw = prepare(spec, opts)
    worker.work(worker_contexts(sw, opts, ["cpu"], threads=1)[0])
    _, found = studies(sw)
    ts = found["prune/tune/baseline"].trials
    states = [t.state for t in ts]
    assert len(ts) == 10, [(t.state, t.params) for t in ts]
    diverged = [t for t in ts if t.user_attrs.get("status") == "diverged"]
    assert diverged and all(t.state == TrialState.FAIL and t.params["lr"] > DIVERGES_ABOVE
                            for t in diverged)
    assert TrialState.PRUNED in states  # below the median at its first evaluation
    for t in ts:
        if t.state == TrialState.PRUNED:
            assert objective_at(t.params["lr"]) < max(
                objective_at(u.params["lr"]) for u in ts if u.state == TrialState.COMPLETE)
    again = prepare(spec, opts)  # a rerun adds nothing: every trial counted, none re-run
    assert again.sync.waiting == 0 and len(studies(again)[1]["prune/tune/baseline"].trials) == 10
    rep = summarise(again, command="test")
    counts = rep.tuning.meta["cells"][0]["counts"]
    assert counts["pruned"] == states.count(TrialState.PRUNED)
    assert counts["diverged"] == len(diverged)
    assert counts["finished"] + counts["pruned"] + counts["diverged"] == 10


def objective_at(lr: float) -> float:
    return 5.0 - 4 * abs(math.log10(lr) - math.log10(2e-3))


GRID_SPEC = """
name: grid
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 16, lr: 2.0e-3, log_every: 10,
       eval_every: 10, eval_samples: 64}
seeds: [0]
metric: {name: modes_hq, goal: max}
tune:
  budget: 6
  sampler: grid
  space:
    lr: [1.0e-3, 2.0e-3, 4.0e-3, 8.0e-3]
"""


def test_grid_covers_every_point_before_repeating_one(tmp_path, monkeypatch):
    monkeypatch.setattr(tune_worker, "train", fake_train)
    monkeypatch.setattr(worker, "train", fake_train)
    spec = tmp_path / "grid.yaml"
    spec.write_text(textwrap.dedent(GRID_SPEC))
    opts = SweepOptions(results=tmp_path / "runs", workers=1, device="cpu", checkpoint_every=0)
    sw = prepare(spec, opts)
    worker.work(worker_contexts(sw, opts, ["cpu"], threads=1)[0])
    study = studies(sw)[1]["grid/tune/baseline"]
    lrs = [t.params["lr"] for t in study.trials]
    assert len(lrs) == 6 and lrs[0] == 2e-3  # trial 0: the default, a grid point
    assert sorted(set(lrs)) == [1e-3, 2e-3, 4e-3, 8e-3]
    assert max(lrs.count(v) for v in set(lrs)) == 2
    assert study.best_trial.params["lr"] == 2e-3  # the objective's peak


def test_a_final_phase_missed_at_the_last_trial_is_queued_before_workers_exit(
        tmp_path, monkeypatch):
    """The worker that closed a cell's last trial died before queueing its final phase
    (here: that step is skipped): an idle worker queues and runs it."""
    monkeypatch.setattr(tune_worker, "train", fake_train)
    monkeypatch.setattr(worker, "train", fake_train)
    monkeypatch.setattr(tune_worker, "start_final", lambda *a, **k: 0)
    spec = tmp_path / "grid.yaml"
    spec.write_text(textwrap.dedent(GRID_SPEC).replace("budget: 6", "budget: 2"))
    opts = SweepOptions(results=tmp_path / "runs", workers=1, device="cpu", checkpoint_every=0)
    sw = prepare(spec, opts)
    worker.work(worker_contexts(sw, opts, ["cpu"], threads=1)[0])
    assert sw.queue.counts()["finished"] == 1  # seeds: [0]
