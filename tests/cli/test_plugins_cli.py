"""Plugins at the command line: `plugins:` in run and sweep files, `ganbench plugins`, and every
bad plugin as one `error:` line naming the file, the plugin (and the name), before any run
starts and with the store left as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import assert_user_error, invoke
from helpers.plugins import isolation, unload_all, write_plugin

SWEEP = """
name: plug
plugins: [{plugins}]
base: {{dataset: tp_ring16, model: mlp, steps: 20, batch_size: 32, log_every: 10,
       eval_samples: 256}}
tricks:
  tp_drift: [off, on]
seeds: 1
metric: {{name: modes, goal: max}}
"""
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


def sweep_file(folder: Path, plugins: str) -> Path:
    p = folder / "s.yaml"
    p.write_text(textwrap.dedent(SWEEP.format(plugins=plugins)))
    return p


def test_a_sweep_file_loads_its_plugins_before_checking_names(tmp_path, isolated_plugins):
    write_plugin(tmp_path / "myplug.py")
    r = invoke("sweep", sweep_file(tmp_path, "./myplug.py"), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "2 cells × 1 seeds" in r.output and "tpd" in r.output


def test_a_run_file_loads_its_plugins(tmp_path, isolated_plugins):
    (tmp_path / "plugs").mkdir()
    write_plugin(tmp_path / "plugs" / "myplug.py")
    run = tmp_path / "r.yaml"
    run.write_text("plugins: [plugs/myplug.py]\ndataset: tp_ring16\nsteps: 4\nbatch_size: 16\n"
                   "eval_samples: 64\ntricks: [tp_drift]\n")
    r = invoke("run", run, "--no-mlflow", "--out", tmp_path / "out", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "finished" in r.output and (tmp_path / "out" / "metrics.json").exists()


def test_plugins_lists_every_name_with_its_origin(tmp_path, isolated_plugins):
    path = write_plugin(tmp_path / "myplug.py")
    r = invoke("plugins", sweep_file(tmp_path, "./myplug.py"))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    row = next(line for line in lines if " tp_drift " in line)
    assert "trick" in row and f"plugin '{path}'" in row
    assert any(" spectral_norm " in line and "built-in" in line for line in lines)
    assert any(" ring8 " in line and "dataset" in line for line in lines)
    assert any(" hinge " in line for line in lines) and any(" mlp " in line for line in lines)
    assert any(" mode_score " in line and "metric" in line for line in lines)
    assert f"plugin {path}: module myplug" in r.output


# ------------------------------------------------------------------ bad plugins


def _store_state(results: Path) -> dict[str, bytes]:
    return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.rglob("*"))
            if p.is_file()}


def bad_case(tmp_path: Path, case: str) -> tuple[str, list[str]]:
    bad = tmp_path / "bad"
    bad.mkdir()
    if case == "unknown":
        return "tp_no_such_plugin", ["plugin 'tp_no_such_plugin'", "no module named"]
    if case == "raises":
        (bad / "boom.py").write_text("import math\nraise ValueError('no GPU here')\n")
        return "./bad/boom.py", ["boom.py' failed on import: ValueError: no GPU here (boom.py:2)"]
    if case == "twice":
        write_plugin(bad / "one.py")
        write_plugin(bad / "two.py")
        return "./bad/one.py, ./bad/two.py", [
            "plugins[1]", "two.py", "trick 'tp_drift' from plugin", "already registered by",
            "one.py"]
    (bad / "shadow.py").write_text("from ganbench.data.base import register_dataset\n"
                                   "@register_dataset('ring8')\ndef load(root): pass\n")
    return "./bad/shadow.py", ["shadow.py", "dataset 'ring8' from plugin",
                               "already registered by built-in"]


@pytest.mark.parametrize("case", ["unknown", "raises", "twice", "built-in"])
def test_a_bad_plugin_is_one_line_before_anything_runs(tmp_path, isolated_plugins, case):
    entries, needles = bad_case(tmp_path, case)
    spec = sweep_file(tmp_path, entries)
    res = tmp_path / "results"
    assert_user_error(invoke("sweep", spec, "--workers", "1", "--results", res),
                      f"{spec}:3: plugins[", *needles)
    assert not res.exists()  # nothing opened, nothing written
    run = tmp_path / "r.yaml"
    run.write_text(f"plugins: [{entries}]\nsteps: 4\n")
    assert_user_error(invoke("run", run, "--results", res), f"{run}:1: plugins[", *needles)


def test_a_bad_plugin_leaves_a_recorded_sweep_as_it_was(tmp_path, isolated_plugins):
    write_plugin(tmp_path / "myplug.py")
    res = tmp_path / "results"
    r = invoke("sweep", sweep_file(tmp_path, "./myplug.py"), "--workers", "0", "--results", res)
    assert r.exit_code == 0, r.output
    unload_all()  # the next command starts afresh, as a new process would
    before = _store_state(res)
    entries, needles = bad_case(tmp_path, "raises")
    spec = sweep_file(tmp_path, f"./myplug.py, {entries}")
    assert_user_error(invoke("sweep", spec, "--workers", "1", "--results", res), *needles)
    assert _store_state(res) == before


def test_base_plugins_is_refused(tmp_path, isolated_plugins):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nbase: {plugins: [a]}\ntricks: {ttur: [off, on]}\n")
    assert_user_error(invoke("sweep", p, "--dry-run"), f"{p}:2: base.plugins",
                      "top of the file")


def test_the_example_plugin_through_its_entry_point(tmp_path):
    """examples/plugin as installed (its entry point in a dist-info folder on the path)."""
    dist = tmp_path / "ganbench_ring16-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ganbench-ring16\n"
                                   "Version: 0.1.0\n")
    ep = (ROOT / "examples" / "plugin" / "pyproject.toml").read_text()
    assert 'ring16 = "ganbench_ring16"' in ep  # the same entry point as the package declares
    (dist / "entry_points.txt").write_text("[ganbench.plugins]\nring16 = ganbench_ring16\n")
    path = os.pathsep.join([str(ROOT), str(ROOT / "examples" / "plugin"), str(tmp_path)])
    out = subprocess.run([sys.executable, "-m", "ganbench", "plugins"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": path,
                                                     "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert any(" drift " in r and "plugin 'ganbench_ring16'" in r for r in rows), out.stdout
    assert any(" ring16 " in r and "plugin 'ganbench_ring16'" in r for r in rows), out.stdout


def test_tricks_verify_passes_for_the_example_plugins_trick(isolated_plugins):
    plugin = Path(__file__).resolve().parents[2] / "examples/plugin/ganbench_ring16/__init__.py"
    r = invoke("tricks", "verify", "drift", "-p", str(plugin))
    assert r.exit_code == 0, r.output
    assert re.search(r"drift: \d+ passed, 0 failed", r.output)
    listed = invoke("tricks", "list")  # a loaded plugin's trick is listed with the built-ins
    assert "drift" in listed.output
