"""The `ganbench` command line through typer's CliRunner (click >= 8.2: output = stdout +
stderr, `result.stderr` separately; there is no mix_stderr)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers.cli import assert_user_error, invoke, write

from ganbench.tricks import TRICKS

# ------------------------------------------------------------------ help and tricks


def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for cmd in ("run", "sweep", "ui", "tricks"):
        assert f" {cmd} " in result.output, cmd


def test_no_args_shows_help():
    result = invoke()
    assert "Usage" in result.output and "sweep" in result.output


def test_tricks_list_names_every_trick_and_the_hinge_conflict():
    result = invoke("tricks", "list")
    assert result.exit_code == 0, result.output
    assert len(TRICKS) >= 4
    for name in TRICKS.names():
        assert name in result.output, name
    ls_line = next(line for line in result.output.splitlines() if "label_smoothing" in line)
    assert "conflict" in ls_line and "hinge" in ls_line
    assert "weight=10.0" in result.output  # paper defaults are shown


def test_tricks_show_gradient_penalty():
    result = invoke("tricks", "show", "gradient_penalty")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.count("│") >= 4}
    assert "weight" in rows and "one_sided" in rows
    assert "10.0" in rows["weight"] and "float" in rows["weight"]
    assert "False" in rows["one_sided"] and "bool" in rows["one_sided"]
    assert "Gulrajani" in result.output


def test_tricks_show_typo_suggests():
    result = invoke("tricks", "show", "spectral_nrom")
    assert_user_error(result, "unknown trick 'spectral_nrom'", "did you mean 'spectral_norm'")


# ------------------------------------------------------------------ run


@pytest.fixture
def ring8_file(tmp_path: Path) -> Path:
    return write(tmp_path / "ring.yaml", """
        dataset: ring8
        steps: 20
        batch_size: 16
        log_every: 5
        eval_samples: 400
    """)


def test_run_writes_the_run_folder(ring8_file, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", ring8_file, "-o", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["dataset"] == "ring8" and cfg["steps"] == 20 and cfg["batch_size"] == 16
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished"
    assert metrics["steps_done"] == 20
    assert metrics["data_source"] == "synthetic"
    assert "modes" in metrics["metrics"]
    assert 0 <= metrics["metrics"]["modes"] <= 8
    png = (out / "samples.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 100


def test_run_cli_overrides(ring8_file, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", ring8_file, "-o", out, "--steps", "5", "--seed", "3",
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["steps"] == 5 and cfg["seed"] == 3
    assert json.loads((out / "metrics.json").read_text())["steps_done"] == 5


@pytest.mark.parametrize(("text", "line", "words"), [
    ("dataset: ring8\nsteps: [1, 2\n", None, ["YAML syntax error"]),
    ("dataset: ring8\nstepz: 20\n", 2, ["stepz", "did you mean 'steps'"]),
    ("dataset: ring8\nsteps: 20\nlr: -0.1\n", 3, ["lr", "greater than 0"]),
    ("dataset: ring8\ntricks:\n  spectral_nrom: {}\n", 3, ["did you mean 'spectral_norm'"]),
    ("tricks:\n  gradient_penalty: {weight: -1}\n", 2, ["weight"]),
], ids=["yaml-syntax", "unknown-key", "negative-lr", "unknown-trick", "bad-trick-param"])
def test_run_bad_file_names_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "run"
    result = invoke("run", path, "-o", out)
    where = f"{path}:{line}:" if line else f"{path}:"
    assert_user_error(result, where, *words)
    if line is None:  # the line is still given, whatever the parser's reading
        assert result.stderr.split(f"{path}:", 1)[1].split(":", 1)[0].isdigit()
    assert not out.exists()


def test_run_conflict_is_a_user_error(tmp_path):
    path = write(tmp_path / "c.yaml", """
        loss: hinge
        tricks:
          label_smoothing: {}
    """)
    assert_user_error(invoke("run", path, "-o", tmp_path / "run"), f"{path}:3:",
                      "label_smoothing", "hinge")


def test_run_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    result = invoke("run", path, "-o", tmp_path / "run")
    assert_user_error(result, str(path), "cannot read")
    assert not (tmp_path / "run").exists()


def test_error_message_with_square_brackets_is_printed_verbatim(tmp_path):
    folder = tmp_path / "e[" / "x]"  # the path contains the markup-like "[/x]"
    folder.mkdir(parents=True)
    path = write(folder / "bad.yaml", "stepz: 1\n")
    assert_user_error(invoke("run", path), f"{path}:1:", "stepz")


# ------------------------------------------------------------------ sweep


SWEEP = """
    name: cli-test
    base: {dataset: ring8, steps: 20, batch_size: 16, log_every: 5}
    tricks:
      label_smoothing: [off, on]
      spectral_norm: [off, on]
    axes:
      loss: [ns, hinge]
    seeds: 2
    metric: {name: modes, goal: max}
"""


def test_sweep_dry_run_prints_plan_and_touches_nothing(tmp_path):
    path = write(tmp_path / "sweep.yaml", SWEEP)
    results = tmp_path / "res"
    result = invoke("sweep", path, "--dry-run", "--results", results)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 cells × 2 seeds = 12 runs" in out
    dropped = [line for line in out.splitlines() if "dropped" in line]
    assert len(dropped) == 2
    assert any("ls · loss=hinge" in line for line in dropped)
    assert any("ls+sn · loss=hinge" in line for line in dropped)
    assert all("label_smoothing" in line and "hinge" in line for line in dropped)
    for label in ("baseline · loss=ns", "sn · loss=hinge", "ls+sn · loss=ns"):
        assert label in out
    assert not results.exists()
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.yaml"}


def test_sweep_dry_run_names_what_a_trick_level_changes(tmp_path):
    # TTUR around lr 2e-3: D 2x faster, G 2x slower than its baseline (the row measures that).
    path = write(tmp_path / "sweep.yaml", """
        name: t
        base: {dataset: ring8, model: mlp, lr: 2.0e-3, steps: 50}
        tricks:
          ttur: [off, on]
          spectral_norm: [off, on]
        seeds: 1
    """)
    result = invoke("sweep", path, "--dry-run")
    assert result.exit_code == 0, result.output
    changes = [line for line in result.output.splitlines() if "changes" in line]
    assert changes == [
        "  changes ttur: learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3 (against its "
        "baseline)",
        "  changes sn+ttur: learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3 (against its "
        "baseline)"]
    rows = {line.split()[1]: line for line in result.output.splitlines() if "lr D" in line}
    assert "lr D 2e-3 G 2e-3" in rows["baseline"] and "lr D 4e-3 G 1e-3" in rows["ttur"]
    assert "D steps per G 1" in rows["sn"] and "batch 256" in rows["sn"]


@pytest.mark.parametrize("extra", [["--dry-run"], []], ids=["dry-run", "real"])
def test_sweep_unknown_trick_fails_before_creating_results(tmp_path, extra):
    path = write(tmp_path / "sweep.yaml", """
        name: t
        tricks:
          spectral_nrom: [off, on]
    """)
    results = tmp_path / "res"
    result = invoke("sweep", path, *extra, "--results", results)
    assert_user_error(result, "did you mean 'spectral_norm'")
    assert not results.exists()


def test_sweep_unknown_key_names_line(tmp_path):
    path = write(tmp_path / "sweep.yaml", "name: t\ndesgin: full\n")
    assert_user_error(invoke("sweep", path, "--dry-run"), f"{path}:2:",
                      "did you mean 'design'")


def test_sweep_unavailable_metric_fails_before_training(tmp_path):
    path = write(tmp_path / "sweep.yaml", """
        name: t
        metric: {name: fid10k}
    """)
    results = tmp_path / "res"
    assert_user_error(invoke("sweep", path, "--results", results), "fid10k")
    assert not results.exists()


def test_sweep_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert_user_error(invoke("sweep", path, "--dry-run"), str(path), "cannot read")
