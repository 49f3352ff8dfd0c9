"""A run's effective settings (its tricks' hooks applied) and the confounds between cells."""

from __future__ import annotations

import pytest

from ganbench.config import RunConfig
from ganbench.effective import (
    baseline_config,
    cell_confounds,
    confounds,
    describe,
    resolve,
    resolved_params,
)
from ganbench.specs.run import validate
from ganbench.store.mlflow import flatten


def cfg(**kw) -> RunConfig:
    return validate(RunConfig(**kw))


def test_resolve_applies_the_tricks_hooks():
    got = resolve(cfg(lr=2e-3, tricks={"ttur": {}, "n_critic": {"steps": 5}}))
    assert got == {"lr_d": 4e-3, "lr_g": 1e-3, "betas_d": [0.5, 0.999],
                   "betas_g": [0.5, 0.999], "batch_size": 256, "d_steps_per_g": 5,
                   "steps": 2000, "eval_every": 0, "eval_samples": 2500}
    assert resolve(cfg(lr=2e-4, tricks={"ttur": {}}))["lr_d"] == 4e-4
    assert resolve(cfg(lr=2e-3, tricks={"ttur": {"d_lr": 4e-4, "g_lr": 1e-4}}))["lr_g"] == 1e-4


def test_resolve_matches_the_optimisers_the_trainer_builds(tmp_path):
    from helpers.tricks import small

    from ganbench.train import Trainer

    c = small(tmp_path, lr=2e-3, betas=(0.0, 0.9), tricks={"ttur": {"ratio": 9}})
    tr, got = Trainer(c), resolve(c)
    assert (tr.opt_d.param_groups[0]["lr"], tr.opt_g.param_groups[0]["lr"]) == (
        got["lr_d"], got["lr_g"])
    assert list(tr.opt_d.param_groups[0]["betas"]) == got["betas_d"]
    assert tr.n_d == got["d_steps_per_g"]


def test_image_runs_add_their_evaluation_counts():
    got = resolve(cfg(dataset="tiny-images", model="dcgan28", image_metrics=["fid"],
                      fid_samples=500))
    assert got["fid_samples"] == 500 and got["fid_real_samples"] is None
    assert "fid_samples" not in resolve(cfg())


def test_resolved_params_have_a_stable_prefix_and_leave_the_run_key():
    from ganbench.specs.plan import canonical

    c = cfg(lr=2e-3, tricks={"ttur": {}})
    params = resolved_params(c)
    assert {"resolved.lr_d", "resolved.lr_g", "resolved.batch_size", "resolved.d_steps_per_g",
            "resolved.steps", "resolved.eval_every"} <= set(params)
    assert not any(k.startswith("resolved") for k in canonical(c))


def test_a_betas_schedule_is_recorded_beside_the_betas_it_starts_from():
    ramped = resolve(cfg(betas=[0.0, {"start": 0.9, "end": 0.99, "shape": "cosine"}]))
    assert ramped["betas_d"] == ramped["betas_g"] == [0.0, 0.9]
    assert ramped["betas_schedule"] == "(0, 0.9→0.99 cosine)"
    assert "betas_schedule" not in resolve(cfg(betas=(0.0, 0.9)))  # as runs recorded before
    assert describe(ramped).endswith(" · betas schedule (0, 0.9→0.99 cosine)")
    longer = {**ramped, "betas_schedule": "(0, 0.9→0.99 over 500)"}
    assert confounds(ramped, longer) == [
        "Adam-betas schedule (0, 0.9→0.99 cosine) → (0, 0.9→0.99 over 500)"]


def test_confounds_name_the_learning_rates_of_ttur_on():
    base, on = cfg(lr=2e-3), cfg(lr=2e-3, tricks={"ttur": {}})
    assert confounds(resolve(base), resolve(on)) == [
        "learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3"]
    old = cfg(lr=2e-3, tricks={"ttur": {"d_lr": 4e-4, "g_lr": 1e-4}})
    assert confounds(resolve(base), resolve(old)) == [
        "learning rate of D 2e-3 → 4e-4 and of G 2e-3 → 1e-4"]


def test_confounds_one_side_only_and_other_settings():
    a = resolve(cfg())
    b = {**a, "lr_d": 8e-4, "d_steps_per_g": 5, "betas_g": [0.0, 0.9], "eval_every": 500,
         "batch_size": 64}
    assert confounds(a, b) == ["learning rate of D 2e-4 → 8e-4", "Adam betas of G (0.5, 0.999) "
                               "→ (0, 0.9)", "batch size 256 → 64", "D steps per G step 1 → 5",
                               "evaluation interval end only → 500 steps"]
    assert confounds(a, a) == []


def test_confounds_read_a_runs_frame_row():
    # The report reads params.resolved.* columns: MLflow's strings, NaN where a run lacks one.
    row = lambda c: {f"params.{k}": v for k, v in flatten(resolved_params(c)).items()}  # noqa: E731
    base, on = row(cfg(lr=2e-3)), row(cfg(lr=2e-3, tricks={"ttur": {}}))
    assert all(isinstance(v, str) for v in on.values())
    assert confounds(base, on) == ["learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3"]
    assert confounds({**base, "params.resolved.lr_d": float("nan")}, on) == [
        "learning rate of G 2e-3 → 1e-3"]
    assert confounds({}, on) == []  # runs recorded before these params: nothing to say


@pytest.mark.parametrize(("tricks", "want"), [
    ({"spectral_norm": {}}, []),
    ({"n_critic": {"steps": 5}}, ["D steps per G step 1 → 5"]),
])
def test_cell_confounds_against_the_all_off_cell(tricks, want):
    c = cfg(tricks={**tricks, "ttur": {}})  # ttur always on: part of the baseline too
    assert baseline_config(c, tricks).tricks == {"ttur": {"ratio": 4.0}}
    assert cell_confounds(c, tricks) == want


def test_the_report_reads_resolved_settings_as_records_not_axes():
    import pandas as pd

    from ganbench.report.frame import factors_of, tidy_runs

    rows = []
    for i, (level, c) in enumerate((("off", cfg(lr=2e-3)),
                                    ("on", cfg(lr=2e-3, tricks={"ttur": {}})))):
        params = {f"params.{k}": v for k, v in flatten(resolved_params(c)).items()}
        if level == "on":
            params["params.tricks.ttur.ratio"] = "4.0"
        rows.append({"run_id": str(i), "tags.ganbench.run_key": str(i), "tags.status": "finished",
                     "tags.ganbench.cell": "ttur" if level == "on" else "baseline",
                     "params.seed": "0", "metrics.eval/modes/final": 8.0, **params})
    t = tidy_runs(pd.DataFrame(rows), "modes")
    assert [f.name for f in factors_of(t)] == ["ttur"]
    from ganbench.report.frame import confounds

    assert confounds(t, "baseline", "ttur") == [
        "learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3"]
