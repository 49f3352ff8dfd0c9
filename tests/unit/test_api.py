"""The public Python API: the names `import ganbench` offers, loaded lazily, and the small
pieces that need no sweep (train, the register_* functions, refusals)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers.plugins import isolation, write_plugin

import ganbench
from ganbench.config import ConfigError


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


def test_import_ganbench_loads_nothing_heavy():
    code = ("import sys, ganbench; print(sorted(m for m in ('torch', 'mlflow', 'optuna', "
            "'pandas', 'ganbench.api') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_the_public_names():
    from ganbench.tricks.base import Trick, TrickParams, register

    assert ganbench.Trick is Trick and ganbench.TrickParams is TrickParams
    assert ganbench.register_trick is register
    for name in ganbench.__all__:
        assert getattr(ganbench, name) is not None
    assert callable(ganbench.train) and callable(ganbench.sweep) and callable(ganbench.report)
    import ganbench.sweep.runner as runner  # the subpackages still import as before

    assert runner.__name__ == "ganbench.sweep.runner"
    with pytest.raises(AttributeError):
        ganbench.no_such_name  # noqa: B018


def test_train_a_dict_with_a_plugin(tmp_path, isolated_plugins, monkeypatch):
    write_plugin(tmp_path / "apiplug.py")
    monkeypatch.chdir(tmp_path)
    result = ganbench.train({"plugins": ["./apiplug.py"], "dataset": "tp_ring16",
                             "tricks": ["tp_drift"], "steps": 4, "batch_size": 16,
                             "eval_samples": 64, "device": "cpu"})
    assert result.steps_done == 4 and "modes" in result.metrics


def test_train_refuses_a_bad_dict_in_one_message():
    with pytest.raises(ConfigError, match="<config>:.*steps"):
        ganbench.train({"steps": 0})
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        ganbench.train({"dataset": "nope"})


def test_register_dataset_loss_and_metric(isolated_plugins):
    from ganbench.data import DATASETS, data_kind
    from ganbench.losses import LOSSES, Loss
    from ganbench.metrics import metric_goal

    @ganbench.register_dataset("tp_points")
    def load(root):
        raise AssertionError("not loaded here")

    assert data_kind("tp_points") == "points"
    assert DATASETS.origin_of("tp_points") == f"module '{__name__}'"

    @ganbench.register_loss("tp_loss")
    class L(Loss):
        pass

    assert LOSSES.get("tp_loss").name == "tp_loss"
    with pytest.raises(TypeError):
        ganbench.register_loss("tp_not_a_loss")(object)
    ganbench.register_metric("tp_score", "min")
    assert metric_goal("tp_score") == "min"
    with pytest.raises(ValueError, match="'modes' from user code is already registered by "
                       "built-in"):
        ganbench.register_metric("modes", "max")
    with pytest.raises(ValueError, match="goal"):
        ganbench.register_metric("tp_other", "up")


def test_sweep_and_report_refuse_what_is_not_there(tmp_path):
    with pytest.raises(ValueError, match="no such sweep file"):
        ganbench.sweep(tmp_path / "none.yaml")
    with pytest.raises(ValueError, match="no MLflow store"):
        ganbench.load_runs("x", results=tmp_path)
    with pytest.raises(ValueError, match="workers"):
        ganbench.sweep({"name": "x"}, workers=-1)


def test_list_queries_cover_every_family_and_see_a_users_entry():
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES, Loss, register_loss

    assert ganbench.list_datasets(kind="points") == DATASETS.names(kind="points")
    assert "ring8" in ganbench.list_datasets(kind="points")
    assert "mnist" not in ganbench.list_datasets(kind="points")
    assert ganbench.list_designs(factorial=True) == ["fractional", "full"]
    assert "fid" in ganbench.list_metrics(data_kind="images", goal="min")
    assert "modes" not in ganbench.list_metrics(data_kind="images")
    assert "spectral_norm" in ganbench.list_tricks("spectral*", origin="built-in")
    assert ganbench.list_protocols(split="test")  # a protocol scored on the test split
    with LOSSES.scoped():
        @register_loss("zz_user_loss")
        class UserLoss(Loss):
            uses_targets = False

        assert "zz_user_loss" in ganbench.list_losses(origin="plugin", uses_targets=False)
        assert "zz_user_loss" not in ganbench.list_losses(origin="built-in")
    assert "zz_user_loss" not in ganbench.list_losses()
