"""Run-file loading: every user error names the file, the line and the field, and says why."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from ganbench.config import ConfigError, RunConfig
from ganbench.specs.load import load_run_config
from ganbench.tricks import TrickStack


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    return str(info.value)


# ------------------------------------------------------------------ YAML syntax


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, """
        dataset: ring8
        steps: 10
          batch_size: 4
        """)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert re.match(rf"{re.escape(str(path))}:3: YAML syntax error", str(info.value))


def test_unclosed_flow_mapping_is_a_syntax_error(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        tricks: {ttur: {}
        lr: 0.1
        """)
    assert "YAML syntax error" in msg and str(tmp_path / "run.yaml") in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_run_config(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path):
    msg = load_error(tmp_path, """
        - steps
        - 10
        """)
    assert msg.startswith(f"{tmp_path / 'run.yaml'}:1: expected a mapping")


def test_empty_file_means_all_defaults(tmp_path):
    cfg = load_run_config(write(tmp_path, ""))
    assert cfg.steps == RunConfig().steps and cfg.tricks == {}
    assert (cfg.dataset, cfg.model, cfg.loss) == ("ring8", "mlp", "ns")


# ------------------------------------------------------------------ schema errors


def test_unknown_key_gives_its_line_and_a_suggestion(tmp_path):
    msg = load_error(tmp_path, """
        dataset: ring8
        model: mlp
        stpes: 10
        """)
    assert f"{tmp_path / 'run.yaml'}:3: stpes: unknown field" in msg
    assert "did you mean 'steps'" in msg


# Regression: _node_at used to return the *value* node of the last key, so keys with a
# block-mapping value were reported at the line of their first child.
def test_unknown_key_with_block_value_points_at_the_key(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        trick:
          ttur: {}
        """)
    assert f"{tmp_path / 'run.yaml'}:2: trick: unknown field" in msg


@pytest.mark.parametrize("field,value,line_no,bound", [
    ("lr", "-1", 2, "greater than 0"),
    ("lr", "0", 2, "greater than 0"),
    ("steps", "0", 2, "greater than 0"),
    ("batch_size", "0", 2, "greater than 0"),
    ("log_every", "0", 2, "greater than 0"),
    ("seed", "-1", 2, "greater than or equal to 0"),
])
def test_out_of_range_values_name_field_line_and_range(tmp_path, field, value, line_no, bound):
    msg = load_error(tmp_path, f"""
        dataset: ring8
        {field}: {value}
        """)
    assert f"{tmp_path / 'run.yaml'}:{line_no}: {field}:" in msg
    assert bound in msg
    assert f"(got {value})" in msg


def test_all_schema_errors_are_reported_at_once(tmp_path):
    msg = load_error(tmp_path, """
        dataset: ring8
        lr: -1
        steps: 0
        batch_size: 0
        """)
    lines = msg.splitlines()
    assert len(lines) == 3
    assert any(":2: lr:" in x for x in lines)
    assert any(":3: steps:" in x for x in lines)
    assert any(":4: batch_size:" in x for x in lines)


def test_betas_out_of_range(tmp_path):
    msg = load_error(tmp_path, """
        steps: 5
        betas: [0.5, 1.0]
        """)
    assert ":2: betas:" in msg and "[0, 1)" in msg


def test_wrong_type_names_field(tmp_path):
    msg = load_error(tmp_path, """
        steps: lots
        """)
    assert ":1: steps:" in msg and "integer" in msg


def test_scientific_notation_is_a_number(tmp_path):
    # YAML 1.1 reads `1e-4` (no dot) as a string; the loader must still give a float.
    cfg = load_run_config(write(tmp_path, """
        lr: 1e-4
        tricks: {ttur: {d_lr: 1e-3}}
        """))
    assert cfg.lr == pytest.approx(1e-4) and isinstance(cfg.lr, float)
    (ttur,) = TrickStack.from_config(cfg).tricks
    assert ttur.params.d_lr == pytest.approx(1e-3)


# ------------------------------------------------------------------ tricks


def test_unknown_trick_gives_line_and_suggestion(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        tricks:
          ttur: {}
          spectral_nrom: {}
        """)
    assert f"{tmp_path / 'run.yaml'}:4: tricks.spectral_nrom: unknown trick" in msg
    assert "did you mean 'spectral_norm'" in msg


def test_unknown_trick_in_list_shorthand(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        tricks: [ttur, spectral_nrom]
        """)
    assert ":2: tricks.spectral_nrom:" in msg and "did you mean 'spectral_norm'" in msg


# Regression (same root cause): errors about a trick with block-style params must carry the
# line of the trick's name, not of its first parameter.
@pytest.mark.parametrize("text,expected", [
    ("loss: ns\ntricks:\n  spectral_nrom:\n    n_power_iterations: 2\n",
     ":3: tricks.spectral_nrom:"),
    ("loss: hinge\ntricks:\n  label_smoothing:\n    real: 0.8\n",
     ":3: conflict: label_smoothing"),
], ids=["unknown-trick", "conflict"])
def test_trick_errors_with_block_params_point_at_the_name(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_bad_trick_param_names_dotted_field_and_line(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        tricks:
          gradient_penalty:
            weight: -1
        """)
    assert f"{tmp_path / 'run.yaml'}:4: tricks.gradient_penalty.weight:" in msg
    assert "greater than 0" in msg


def test_bad_trick_param_in_flow_style(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        tricks: {gradient_penalty: {weight: -1}}
        """)
    assert ":2: tricks.gradient_penalty.weight:" in msg


def test_unknown_trick_param_is_rejected(tmp_path):
    msg = load_error(tmp_path, """
        tricks:
          gradient_penalty:
            wieght: 3
        """)
    assert ":3: tricks.gradient_penalty.wieght: unknown field" in msg
    assert "did you mean 'weight'" in msg


def test_trick_params_must_be_a_mapping(tmp_path):
    msg = load_error(tmp_path, """
        tricks:
          ttur: 5
        """)
    assert ":2: tricks.ttur:" in msg


def test_list_shorthand_means_paper_defaults(tmp_path):
    cfg = load_run_config(write(tmp_path, """
        steps: 10
        tricks: [ttur, spectral_norm]
        """))
    # validation stores every parameter, typed, so '{}' and explicit defaults are one run
    assert cfg.tricks == {"ttur": {"ratio": 4.0},
                          "spectral_norm": {"n_power_iterations": 1, "eps": 1e-12, "on_g": False}}
    stack = TrickStack.from_config(cfg)
    assert sorted(stack.names) == ["spectral_norm", "ttur"]
    assert all(t.params == type(t).Params() for t in stack.tricks)


def test_bare_trick_key_means_paper_defaults(tmp_path):
    cfg = load_run_config(write(tmp_path, """
        tricks:
          ttur:
          spectral_norm: true
          label_smoothing: false
        """))
    assert cfg.tricks == {"ttur": {"ratio": 4.0},
                          "spectral_norm": {"n_power_iterations": 1, "eps": 1e-12, "on_g": False}}


def test_empty_tricks_block_means_no_tricks(tmp_path):
    cfg = load_run_config(write(tmp_path, """
        steps: 10
        tricks:
        #  ttur:
        """))
    assert cfg.tricks == {}


def test_trick_params_are_typed_after_validation(tmp_path):
    # YAML 1.1 reads 1e-3 (no dot) as a string; the stored config must hold the float.
    cfg = load_run_config(write(tmp_path, """
        tricks:
          ttur: {d_lr: 1e-3}
        """))
    assert cfg.tricks["ttur"]["d_lr"] == 1e-3 and isinstance(cfg.tricks["ttur"]["d_lr"], float)


def test_trick_conflict_names_the_line_of_the_trick(tmp_path):
    msg = load_error(tmp_path, """
        steps: 10
        loss: hinge
        tricks:
          label_smoothing: {}
        """)
    assert f"{tmp_path / 'run.yaml'}:4: conflict: label_smoothing" in msg
    assert "'hinge'" in msg and "ns" in msg


# ------------------------------------------------------------------ model / data fit and defaults


@pytest.mark.parametrize("dataset,model", [("tiny-images", "mlp"), ("ring8", "dcgan28"),
                                           ("grid25", "dcgan64")])
def test_model_dataset_mismatch_is_a_conflict(tmp_path, dataset, model):
    msg = load_error(tmp_path, f"""
        dataset: {dataset}
        model: {model}
        """)
    assert f"{tmp_path / 'run.yaml'}:2: conflict: model:" in msg
    assert repr(model) in msg and repr(dataset) in msg


def test_unknown_model_dataset_and_loss_are_all_reported(tmp_path):
    msg = load_error(tmp_path, """
        dataset: ring9
        model: mpl
        loss: hinje
        """)
    assert ":1: dataset: unknown dataset 'ring9'" in msg
    assert ":2: model: unknown model 'mpl'; did you mean 'mlp'?" in msg
    assert ":3: loss: unknown loss 'hinje'; did you mean 'hinge'?" in msg


@pytest.mark.parametrize("text,z_dim,d_norm", [
    ("model: mlp\n", 16, "none"),
    ("dataset: tiny-images\nmodel: dcgan28\n", 64, "batch"),
    ("dataset: tiny-images\nmodel: dcgan64\n", 100, "batch"),
    ("model: mlp\nz_dim: 8\nd_norm: layer\n", 8, "layer"),
])
def test_defaults_are_resolved_from_the_model(tmp_path, text, z_dim, d_norm):
    cfg = load_run_config(write(tmp_path, text))
    assert cfg.z_dim == z_dim and cfg.d_norm == d_norm


def test_run_config_is_closed():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        RunConfig(stpes=10)


def test_identity_leaves_out_label_device_and_data_root():
    a = RunConfig(name="x", device="cpu", data_root="/a", lr=1e-3)
    b = RunConfig(name="y", device="cuda:1", data_root="/b", lr=1e-3, plugins=["p"])
    # plugins: the plugin's code is identified by its recorded hash, not by the run's key;
    # fd_weights: the file's sha256 is in the fd protocol tag, where it lives is not the run
    assert RunConfig.not_identity() == {"name", "device", "data_root", "plugins", "fd_weights"}
    assert a.identity() == b.identity()
    assert a.identity() != RunConfig(lr=2e-3).identity()
    assert "seed" not in a.identity(exclude={"seed"})
