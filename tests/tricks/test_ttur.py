"""TTUR (Heusel et al. 2017): separate learning rates for D and G.

Default form: d = lr·sqrt(ratio), g = lr/sqrt(ratio) around the run's lr (ratio 4: SAGAN's
4e-4 / 1e-4 at lr 2e-4). Absolute form {d_lr, g_lr}: the rates as given, as before ratios."""

from __future__ import annotations

import json

import pytest
from helpers.tricks import small

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.specs.plan import canonical, digest, plan
from ganbench.specs.run import validate
from ganbench.train import Trainer
from ganbench.train.checkpoint import comparable_config


def rates(tr: Trainer) -> tuple[float, float]:
    return tr.opt_d.param_groups[0]["lr"], tr.opt_g.param_groups[0]["lr"]


def test_ttur_on_at_the_common_lr_is_sagans_rates_exactly(tmp_path):
    tr = Trainer(small(tmp_path, lr=2e-4, tricks={"ttur": {}}))
    assert rates(tr) == (4e-4, 1e-4)
    assert tr.opt_d.param_groups[0]["betas"] == tr.cfg.betas  # TTUR changes rates only


def test_ttur_on_keeps_the_base_scale(tmp_path):
    # lr 2e-3: D 2x faster and G 2x slower than the base, not 5x and 20x slower.
    assert rates(Trainer(small(tmp_path, lr=2e-3, tricks={"ttur": {}}))) == (4e-3, 1e-3)
    d, g = rates(Trainer(small(tmp_path, lr=3e-4, tricks={"ttur": {"ratio": 9}})))
    assert d == pytest.approx(9e-4) and g == pytest.approx(1e-4)


def test_ttur_custom_learning_rates_are_absolute(tmp_path):
    tr = Trainer(small(tmp_path, lr=2e-3, tricks={"ttur": {"d_lr": 1e-3, "g_lr": 3e-5}}))
    assert rates(tr) == (1e-3, 3e-5)


def test_ttur_one_absolute_rate_keeps_sagans_other(tmp_path):
    cfg = small(tmp_path, lr=2e-3, tricks={"ttur": {"d_lr": 1e-3}})
    assert cfg.tricks["ttur"] == {"d_lr": 1e-3, "g_lr": 1e-4}  # as stored before ratios
    assert rates(Trainer(cfg)) == (1e-3, 1e-4)


def test_ttur_stores_one_form():
    assert validate(RunConfig(tricks={"ttur": {}})).tricks["ttur"] == {"ratio": 4.0}
    assert validate(RunConfig(tricks={"ttur": {"ratio": 2}})).tricks["ttur"] == {"ratio": 2.0}


def test_without_ttur_both_nets_use_cfg_lr(tmp_path):
    tr = Trainer(small(tmp_path, lr=3e-4))
    assert tr.opt_d.param_groups[0]["lr"] == tr.opt_g.param_groups[0]["lr"] == 3e-4


def test_ttur_rejects_out_of_range_rates():
    with pytest.raises(ConfigError, match=r"tricks\.ttur\.d_lr"):
        validate(RunConfig(tricks={"ttur": {"d_lr": 0}}))
    with pytest.raises(ConfigError, match=r"tricks\.ttur\.ratio"):
        validate(RunConfig(tricks={"ttur": {"ratio": 0}}))


@pytest.mark.parametrize("level", [{"ratio": 2, "d_lr": 1e-3}, {"ratio": 4, "g_lr": 1e-4}])
def test_ttur_refuses_ratio_with_absolute_rates(level):
    with pytest.raises(ConfigError) as info:
        validate(RunConfig(tricks={"ttur": level}))
    msg = str(info.value)
    assert "tricks.ttur" in msg and "not both" in msg and len(msg.splitlines()) == 1


def test_ttur_mix_in_a_sweep_level_is_refused_at_plan():
    spec = SweepSpec(name="t", tricks={"ttur": ["off", {"ratio": 2, "d_lr": 1e-3}]})
    with pytest.raises(ValueError, match="not both"):
        plan(spec)


# Run keys of `ganbench.specs.plan.plan` made before ratios existed (commit 461eddf), for
# `name: k, base: {dataset: ring8, lr: LR}, tricks: {ttur: [off, on, {d_lr: 1e-3}]}`.
OLD_KEYS = {  # (lr, cell, seed) -> run key
    (2e-4, "baseline", 0): "54a2d670d851", (2e-4, "ttur", 0): "82116c1a1604",
    (2e-4, "ttur", 1): "ffcc318af163", (2e-4, "ttur0.001", 0): "c0d494980dd0",
    (2e-3, "baseline", 0): "a9880f5da3f5", (2e-3, "ttur0.001", 1): "4e34cde16d7f",
}
OLD_TTUR_ON_AT_2E3 = "149db222ecc3"  # meant d 4e-4, g 1e-4: that run is not this one


def _keys(lr: float) -> dict[tuple[float, str, int], str]:
    spec = SweepSpec(name="k", base={"dataset": "ring8", "lr": lr}, seeds=2,
                     tricks={"ttur": ["off", "on", {"d_lr": 1e-3}]})
    return {(lr, r.cell.label, r.seed): r.run_key for r in plan(spec).runs}


def test_run_keys_unchanged_wherever_the_rates_are():
    keys = {**_keys(2e-4), **_keys(2e-3)}
    assert {k: keys[k] for k in OLD_KEYS} == OLD_KEYS  # a sweep made before resumes
    # At lr 2e-3 `on` now trains at 4e-3 / 1e-3: a new key, the one the absolute form has.
    assert keys[(2e-3, "ttur", 0)] != OLD_TTUR_ON_AT_2E3
    same = validate(RunConfig(lr=2e-3, tricks={"ttur": {"d_lr": 4e-3, "g_lr": 1e-3}}))
    assert keys[(2e-3, "ttur", 0)] == digest(canonical(same))


def test_checkpoint_of_the_old_stored_form_resumes_ttur_on():
    now = validate(RunConfig(tricks={"ttur": {}}))
    old = json.loads(now.model_dump_json())
    old["tricks"] = {"ttur": {"d_lr": 4e-4, "g_lr": 1e-4}}
    assert comparable_config(json.dumps(old)) == comparable_config(now.model_dump_json())
    other = validate(RunConfig(lr=2e-3, tricks={"ttur": {}}))
    assert comparable_config(other.model_dump_json()) != comparable_config(json.dumps(old))
