"""Sweep design: spec -> cells x seeds, conflicts dropped with reasons, stable run keys."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.specs.load import load_sweep_spec
from ganbench.specs.plan import PlannedRun, canonical, digest, level_label, level_of, plan


def spec(**kw) -> SweepSpec:
    kw.setdefault("name", "t")
    return SweepSpec.model_validate(kw)


def labels(p) -> list[str]:
    return [c.label for c in p.cells]


def keys(p) -> set[str]:
    return {r.run_key for r in p.runs}


GP_LEVELS = ["off", {"weight": 1}, {"weight": 10}]
FULL = dict(
    tricks={
        "spectral_norm": ["off", "on"],
        "ttur": ["off", "on"],
        "gradient_penalty": GP_LEVELS,
        "label_smoothing": ["off", "on"],
    },
    axes={"loss": ["ns", "hinge"]},
)


# ------------------------------------------------------------------ level helpers


@pytest.mark.parametrize("raw", [None, False, "off"])
def test_level_of_off(raw):
    assert level_of(raw) is None


@pytest.mark.parametrize("raw", [True, "on"])
def test_level_of_on_is_paper_defaults(raw):
    assert level_of(raw) == {}


def test_level_of_mapping_is_copied():
    raw = {"weight": 5}
    out = level_of(raw)
    assert out == raw and out is not raw


@pytest.mark.parametrize("raw", ["maybe", 3, ["on"]])
def test_level_of_rejects_other_values(raw):
    with pytest.raises(ValueError, match="off, on or a mapping"):
        level_of(raw)


@pytest.mark.parametrize(("trick", "params", "label"), [
    ("spectral_norm", {}, "sn"),
    ("gradient_penalty", {"weight": 10}, "gp10"),
    ("gradient_penalty", {"weight": 2.5}, "gp2.5"),
    ("gradient_penalty", {"one_sided": True}, "gp(one_sided=True)"),
    ("ttur", {"g_lr": 1e-4, "d_lr": 4e-4}, "ttur(d_lr=0.0004,g_lr=0.0001)"),
])
def test_level_label(trick, params, label):
    assert level_label(trick, params) == label


# ------------------------------------------------------------------ full design


def test_full_design_drops_label_smoothing_with_hinge():
    p = plan(spec(**FULL, seeds=2))
    total = 2 * 2 * 3 * 2 * 2
    n_dropped = 2 * 2 * 3  # label_smoothing on x hinge, any sn/ttur/gp
    assert len(p.dropped) == n_dropped
    assert len(p.cells) == total - n_dropped == 36
    assert len(p.runs) == 36 * 2
    for label, reason in p.dropped:
        assert "ls" in label.split(" · ")[0].split("+")
        assert label.endswith("loss=hinge")
        assert "label_smoothing" in reason and "hinge" in reason
    for c in p.cells:
        assert not ("label_smoothing" in c.tricks and c.axes["loss"] == "hinge")
        assert c.config.loss == c.axes["loss"]
    assert len(set(labels(p))) == len(p.cells)
    assert len({c.cell_id for c in p.cells}) == len(p.cells)


def test_full_design_cell_configs_hold_typed_params():
    p = plan(spec(**FULL, seeds=1))
    cell = next(c for c in p.cells if c.label == "gp10+sn · loss=ns")
    assert set(cell.config.tricks) == {"gradient_penalty", "spectral_norm"}
    assert cell.config.tricks["gradient_penalty"] == {"weight": 10.0, "one_sided": False}
    assert cell.config.tricks["spectral_norm"]["n_power_iterations"] == 1


def test_seed_count_expands_to_range():
    p = plan(spec(tricks={"spectral_norm": ["off", "on"]}, seeds=3))
    assert len(p.runs) == 2 * 3
    for c in p.cells:
        assert sorted(r.seed for r in p.runs if r.cell is c) == [0, 1, 2]
    assert all(r.config.seed == r.seed for r in p.runs)


def test_seed_list_is_used_as_given():
    p = plan(spec(tricks={"spectral_norm": ["off", "on"]}, seeds=[5, 9]))
    assert [r.seed for r in p.runs] == [5, 9, 5, 9]
    assert all(r.config.seed == r.seed for r in p.runs)


def test_no_tricks_is_one_baseline_cell():
    p = plan(spec(seeds=1))
    assert labels(p) == ["baseline"]
    assert p.cells[0].tricks == {} and p.cells[0].config.tricks == {}


# ------------------------------------------------------------------ other designs


def test_one_at_a_time():
    p = plan(spec(design="one-at-a-time", seeds=1, tricks={
        "spectral_norm": ["off", "on"],
        "gradient_penalty": GP_LEVELS,
        "ttur": ["off", "on"],
    }))
    assert labels(p) == ["baseline", "sn", "gp1", "gp10", "ttur"]
    assert p.cells[0].tricks == {}
    assert all(len(c.tricks) == 1 for c in p.cells[1:])


def test_leave_one_out():
    p = plan(spec(design="leave-one-out", seeds=2, tricks={
        "spectral_norm": ["off", "on"],
        "gradient_penalty": ["off", {"weight": 5}],
        "ttur": ["on", "off"],  # the order of the two levels does not matter
    }))
    assert len(p.cells) == 3 + 1
    # a trick with a single non-off setting is labelled by its short name alone
    assert labels(p) == ["gp+sn+ttur", "gp+ttur", "sn+ttur", "gp+sn"]
    everything = set(p.cells[0].tricks)
    assert everything == {"spectral_norm", "gradient_penalty", "ttur"}
    assert [everything - set(c.tricks) for c in p.cells[1:]] == [
        {"spectral_norm"}, {"gradient_penalty"}, {"ttur"}]
    assert len(p.runs) == 4 * 2


def test_fractional_four_tricks_resolution_four():
    names = ["spectral_norm", "gradient_penalty", "ttur", "label_smoothing"]
    p = plan(spec(design="fractional", resolution=4, seeds=1,
                  tricks={n: ["off", "on"] for n in names}))
    assert len(p.cells) == 8 and not p.dropped
    x = np.array([[1 if n in c.tricks else -1 for n in names] for c in p.cells])
    assert (x == 1).sum(axis=0).tolist() == [4, 4, 4, 4]
    assert (x.T @ x == 8 * np.eye(4, dtype=int)).all(), "main effects are not orthogonal"
    for a, b in itertools.combinations(range(4), 2):
        assert (x.T @ (x[:, a] * x[:, b]) == 0).all(), "main effect aliased with a 2FI"
    assert len({tuple(r) for r in x.tolist()}) == 8


def test_fractional_uses_the_non_off_level():
    p = plan(spec(design="fractional", seeds=1, tricks={
        "spectral_norm": ["off", "on"],
        "gradient_penalty": [{"weight": 3}, "off"],
    }))
    gp_cells = [c for c in p.cells if "gradient_penalty" in c.tricks]
    assert gp_cells and all(c.tricks["gradient_penalty"] == {"weight": 3} for c in gp_cells)


# ------------------------------------------------------------------ run keys


def test_run_keys_stable_across_calls():
    a, b = plan(spec(**FULL)), plan(spec(**FULL))
    assert [r.run_key for r in a.runs] == [r.run_key for r in b.runs]
    assert [c.cell_id for c in a.cells] == [c.cell_id for c in b.cells]


def test_run_keys_ignore_trick_order_in_spec():
    rev = dict(FULL, tricks=dict(reversed(list(FULL["tricks"].items()))))
    a, b = plan(spec(**FULL)), plan(spec(**rev))
    assert keys(a) == keys(b)
    assert sorted(labels(a)) == sorted(labels(b))


def test_run_keys_differ_per_seed_and_cell_id_does_not():
    p = plan(spec(**FULL, seeds=3))
    assert len(keys(p)) == len(p.runs)
    for c in p.cells:
        assert len({r.run_key for r in p.runs if r.cell is c}) == 3


def test_default_params_and_explicit_defaults_are_one_cell():
    p = plan(spec(tricks={"gradient_penalty": [{}, {"weight": 10}]}, seeds=2))
    assert len(p.cells) == 1 and len(p.runs) == 2
    implicit = plan(spec(tricks={"gradient_penalty": ["on"]}))
    explicit = plan(spec(tricks={"gradient_penalty": [{"weight": 10, "one_sided": False}]}))
    assert keys(implicit) == keys(explicit)
    assert implicit.cells[0].cell_id == explicit.cells[0].cell_id


def test_run_key_ignores_where_it_runs():
    base = {"steps": 50}
    ref = keys(plan(spec(base=base)))
    assert keys(plan(spec(base={**base, "device": "cpu"}))) == ref
    assert keys(plan(spec(base={**base, "device": "cuda:1"}))) == ref
    assert keys(plan(spec(base={**base, "data_root": "/somewhere/else"}))) == ref
    assert keys(plan(spec(base={**base, "name": "renamed"}))) == ref


def test_run_key_changes_with_what_is_trained():
    ref = keys(plan(spec(base={"steps": 50})))
    assert keys(plan(spec(base={"steps": 51}))).isdisjoint(ref)
    assert keys(plan(spec(base={"steps": 50, "lr": 1e-3}))).isdisjoint(ref)
    assert keys(plan(spec(base={"steps": 50}, tricks={"gradient_penalty": [{"weight": 5}]}))
                ).isdisjoint(ref)


def test_run_key_is_digest_of_canonical_config():
    p = plan(spec(tricks={"spectral_norm": ["on"]}, seeds=[4]))
    r = p.runs[0]
    assert r.run_key == digest(canonical(r.config))
    assert p.cells[0].cell_id == digest(canonical(r.config, with_seed=False))
    assert "device" not in canonical(r.config) and "data_root" not in canonical(r.config)
    assert canonical(RunConfig(seed=1)) != canonical(RunConfig(seed=2))
    assert canonical(RunConfig(seed=1), with_seed=False) == canonical(RunConfig(seed=2),
                                                                       with_seed=False)


# ------------------------------------------------------------------ labels


def test_labels():
    p = plan(spec(seeds=[1], tricks={
        "spectral_norm": ["off", "on"],
        "gradient_penalty": ["off", {"weight": 1}, {"weight": 10}],
    }, axes={"loss": ["ns", "hinge"]}))
    assert labels(p) == [
        "baseline · loss=ns", "baseline · loss=hinge", "gp1 · loss=ns", "gp1 · loss=hinge",
        "gp10 · loss=ns", "gp10 · loss=hinge", "sn · loss=ns", "sn · loss=hinge",
        "gp1+sn · loss=ns", "gp1+sn · loss=hinge", "gp10+sn · loss=ns", "gp10+sn · loss=hinge",
    ]


def test_single_setting_trick_labelled_by_short_name():
    p = plan(spec(seeds=1, tricks={"gradient_penalty": ["off", {"weight": 10}],
                                   "ttur": ["off", {"d_lr": 1e-3, "g_lr": 1e-4}]}))
    assert labels(p) == ["baseline", "ttur", "gp", "gp+ttur"]
    assert p.cells[2].tricks == {"gradient_penalty": {"weight": 10}}


def test_labels_without_axes_and_run_name():
    p = plan(spec(seeds=[1], tricks={"spectral_norm": ["off", "on"],
                                     "gradient_penalty": ["off", {"weight": 1},
                                                          {"weight": 10}]}))
    assert labels(p) == ["baseline", "gp1", "gp10", "sn", "gp1+sn", "gp10+sn"]
    run = next(r for r in p.runs if r.cell.label == "sn")
    assert isinstance(run, PlannedRun)
    assert run.run_name == "sn · s1"


def test_two_axes_both_in_label():
    p = plan(spec(seeds=1, axes={"loss": ["hinge"], "steps": [10]}))
    assert labels(p) == ["baseline · loss=hinge steps=10"]
    assert p.cells[0].config.steps == 10


# ------------------------------------------------------------------ errors


def test_unknown_trick_suggests():
    with pytest.raises(ValueError, match="did you mean 'spectral_norm'"):
        plan(spec(tricks={"spectral_nrom": ["off", "on"]}))


def test_unknown_axis_suggests():
    with pytest.raises(ValueError, match=r"axes\.los.*did you mean 'loss'"):
        plan(spec(axes={"los": ["ns", "hinge"]}))


@pytest.mark.parametrize("axis", ["tricks", "name"])
def test_reserved_axes_rejected(axis):
    with pytest.raises(ValueError, match=f"axes.{axis}"):
        plan(spec(axes={axis: ["x"]}))


def test_seed_axis_rejected_without_suggesting_seed():
    with pytest.raises(ValueError, match="axes.seed") as e:
        plan(spec(axes={"seed": [1, 2]}))
    assert "did you mean 'seed'" not in str(e.value)


def test_empty_axis_rejected():
    with pytest.raises(ValueError, match=r"axes\.loss.*at least one value"):
        plan(spec(axes={"loss": []}))


def test_empty_level_list_rejected():
    with pytest.raises(ValueError, match=r"tricks\.ttur.*at least one level"):
        plan(spec(tricks={"ttur": []}))


def test_bad_level_rejected():
    with pytest.raises(ValueError, match="off, on or a mapping"):
        plan(spec(tricks={"ttur": ["off", "maybe"]}))


def test_bad_trick_param_rejected():
    with pytest.raises(ValueError, match="weight"):
        plan(spec(tricks={"gradient_penalty": ["off", {"weight": -1}]}))


def test_unknown_trick_param_rejected():
    with pytest.raises(ValueError, match="wieght"):
        plan(spec(tricks={"gradient_penalty": ["off", {"wieght": 1}]}))


@pytest.mark.parametrize("design", ["leave-one-out", "fractional"])
def test_two_level_designs_need_two_levels(design):
    with pytest.raises(ValueError, match=r"gradient_penalty.*needs two levels"):
        plan(spec(design=design, tricks={"spectral_norm": ["off", "on"],
                                         "gradient_penalty": GP_LEVELS}))


@pytest.mark.parametrize("design", ["leave-one-out", "fractional"])
def test_two_level_designs_need_an_off_level(design):
    with pytest.raises(ValueError, match="needs two levels"):
        plan(spec(design=design, tricks={"gradient_penalty": [{"weight": 1}, {"weight": 10}]}))


def test_leave_one_out_rejects_two_off_levels():
    with pytest.raises(ValueError, match="needs two levels"):
        plan(spec(design="leave-one-out", tricks={"spectral_norm": ["off", "on"],
                                                  "ttur": ["off", "off"]}))


def test_all_dropped_grid_is_an_error():
    with pytest.raises(ValueError, match="the grid is empty") as e:
        plan(spec(base={"loss": "hinge"}, tricks={"label_smoothing": ["on"]}))
    assert "label_smoothing" in str(e.value) and "hinge" in str(e.value)


def test_bad_base_value_is_an_error_not_a_crash():
    with pytest.raises(ValueError, match="steps"):
        plan(spec(base={"steps": -5}))
    with pytest.raises(ValueError, match="stepz"):
        plan(spec(base={"stepz": 5}))


def test_bad_axis_value_is_an_error():
    with pytest.raises(ValueError, match="steps"):
        plan(spec(axes={"steps": [10, -1]}))


def test_model_data_mismatch_is_dropped_as_conflict():
    p = plan(spec(axes={"model": ["mlp", "dcgan28"]}))
    assert labels(p) == ["baseline · model=mlp"]
    assert len(p.dropped) == 1 and "dcgan28" in p.dropped[0][1]


@pytest.mark.parametrize("seeds", [0, -1, [], [-1], [1, 1]])
def test_bad_seeds_rejected(seeds):
    with pytest.raises(ValidationError, match="seed"):
        spec(seeds=seeds)


@pytest.mark.parametrize("name", ["my sweep", "", "-x", "a/b"])
def test_bad_sweep_name_rejected(name):
    with pytest.raises(ValidationError, match="name"):
        SweepSpec.model_validate({"name": name})


def test_unknown_spec_key_rejected():
    with pytest.raises(ValidationError, match="desgin"):
        SweepSpec.model_validate({"name": "t", "desgin": "full"})


@pytest.mark.parametrize("resolution", [2, 6])
def test_resolution_range(resolution):
    with pytest.raises(ValidationError, match="resolution"):
        spec(design="fractional", resolution=resolution)


# ------------------------------------------------------------------ base tricks


def test_base_tricks_list_shorthand():
    p = plan(spec(base={"tricks": ["ttur"]}, tricks={"spectral_norm": ["off", "on"]}))
    assert all("ttur" in c.config.tricks for c in p.cells)


def test_base_tricks_mapping_applies_to_every_cell():
    p = plan(spec(base={"tricks": {"ttur": None}}, tricks={"spectral_norm": ["off", "on"]}))
    assert len(p.cells) == 2
    assert all("ttur" in c.config.tricks for c in p.cells)


def test_swept_trick_also_in_base_is_not_silently_merged():
    try:
        p = plan(spec(base={"tricks": {"ttur": {}}}, tricks={"ttur": ["off", "on"]}))
    except ValueError:
        return  # rejecting the spec is an acceptable fix
    off = [c for c in p.cells if "ttur" not in c.tricks]
    assert len(p.cells) == 2 and off and "ttur" not in off[0].config.tricks


# ------------------------------------------------------------------ metric availability


def test_metric_not_provided_by_image_dataset_rejected_before_training():
    with pytest.raises(ValueError, match="modes"):
        plan(spec(base={"dataset": "tiny-images", "model": "dcgan28"},
                  metric={"name": "modes"}))


def test_metric_not_provided_by_points_dataset_rejected():
    with pytest.raises(ValueError, match="fid10k"):
        plan(spec(metric={"name": "fid10k"}))


@pytest.mark.parametrize(("name", "goal"), [("modes", "max"), ("hq", "max"),
                                             ("reverse_kl", "min")])
def test_points_metrics_accepted(name, goal):
    p = plan(spec(metric={"name": name, "goal": goal}))
    assert len(p.cells) == 1


# ------------------------------------------------------------------ from YAML


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_load_sweep_spec_unknown_key_names_file_line_and_suggestion(tmp_path):
    path = write(tmp_path, """
        name: t
        tricks:
          spectral_norm: [off, on]
        desgin: full
        seeds: 2
    """)
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(path)
    msg = str(e.value)
    assert f"{path}:4:" in msg
    assert "desgin" in msg and "did you mean 'design'" in msg


def test_load_sweep_spec_bad_seeds_names_line(tmp_path):
    path = write(tmp_path, """
        name: t
        seeds: 0
    """)
    with pytest.raises(ConfigError, match=f"{path}:2:.*seeds"):
        load_sweep_spec(path)


def test_yaml_on_off_booleans_are_levels(tmp_path):
    path = write(tmp_path, """
        name: t
        tricks:
          spectral_norm: [off, on]
          ttur: [no, yes]
        seeds: 1
    """)
    s, node = load_sweep_spec(path)
    assert s.tricks["spectral_norm"] == [False, True]  # YAML 1.1 booleans
    assert node is not None
    p = plan(s)
    assert labels(p) == ["baseline", "ttur", "sn", "sn+ttur"]


def test_yaml_quoted_on_off_are_levels_too(tmp_path):
    path = write(tmp_path, """
        name: t
        tricks:
          spectral_norm: ["off", "on"]
        seeds: [3]
    """)
    p = plan(load_sweep_spec(path)[0])
    assert labels(p) == ["baseline", "sn"]
    assert [r.run_name for r in p.runs] == ["baseline · s3", "sn · s3"]


def test_yaml_and_dict_specs_give_the_same_run_keys(tmp_path):
    path = write(tmp_path, """
        name: t
        base: {steps: 40}
        tricks:
          gradient_penalty: [off, {weight: 10}]
        axes:
          loss: [ns, hinge]
    """)
    from_yaml = plan(load_sweep_spec(path)[0])
    from_dict = plan(spec(base={"steps": 40}, tricks={"gradient_penalty": ["off", "on"]},
                          axes={"loss": ["ns", "hinge"]}))
    assert keys(from_yaml) == keys(from_dict)


def test_run_keys_ignore_settings_left_at_their_defaults():
    # A later release may add a setting with a default: existing run keys must not change.
    from ganbench.config import RunConfig
    from ganbench.specs.plan import canonical

    explicit = RunConfig(dataset="ring8", eval_samples=RunConfig().eval_samples)
    assert canonical(RunConfig(dataset="ring8")) == canonical(explicit)
    assert "eval_samples" not in canonical(explicit) and canonical(explicit)["seed"] == 0
    assert canonical(RunConfig(eval_samples=100)) != canonical(RunConfig())
