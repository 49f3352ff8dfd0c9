"""A user's plugin (its own folder, outside the repository) through every way in, end to end in
real processes: `plugins:` in a sweep file with two spawned workers; GANBENCH_PLUGINS with a
`ganbench worker` started separately (and one that cannot import the plugin, refused before
it claims anything); and the Python API (`ganbench.sweep`, `ganbench.load_runs`) with the
example plugin on PYTHONPATH and a trick defined in `__main__`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.plugins import write_plugin
from mlflow import MlflowClient

from ganbench.store.mlflow import default_tracking_uri
from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE = ("{dataset: tp_ring16, model: mlp, steps: 20, batch_size: 32, log_every: 10, "
        "eval_samples: 256}")


def spec(folder: Path, name: str, plugins: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.yaml"
    p.write_text(f"name: {name}\n" + (f"plugins: [{plugins}]\n" if plugins else "")
                 + f"base: {BASE}\ntricks:\n  tp_drift: [off, on]\nseeds: 2\n"
                 "metric: {name: modes, goal: max}\n")
    return p


def cli(*args, cwd: Path, env: dict | None = None, timeout: int = 600):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "OMP_NUM_THREADS": "1",
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "ganbench", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def runs_of(results: Path, name: str):
    c = MlflowClient(default_tracking_uri(results))
    exp = c.get_experiment_by_name(name)
    runs = c.search_runs([exp.experiment_id])
    return ([r for r in runs if r.data.tags.get("ganbench.role") == "run"],
            [r for r in runs if r.data.tags.get("ganbench.role") != "run"])


def assert_recorded(results: Path, name: str, needle: str) -> None:
    children, parents = runs_of(results, name)
    assert len(children) == 4
    assert {r.info.status for r in children} == {"FINISHED"}
    for r in children + parents:
        assert needle in r.data.tags.get("ganbench.plugins", ""), r.data.tags
    with open(results / name / "summary.csv") as f:
        cells = {row["cell"] for row in csv.DictReader(f)}
    assert cells == {"baseline", "tpd"}  # the report ranks the plugin trick's cell
    assert "tpd" in (results / name / "report.md").read_text()


def test_plugins_key_in_a_sweep_file_with_two_workers(tmp_path):
    (tmp_path / "userplug").mkdir()
    write_plugin(tmp_path / "userplug" / "myplug.py")
    s = spec(tmp_path / "sweeps", "plugfile", "../userplug/myplug.py")
    res = tmp_path / "results"
    r = cli("sweep", s, "--workers", "2", "--results", res, "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("finished") >= 4
    assert_recorded(res, "plugfile", "myplug.py@")
    meta = Queue(str(res / "plugfile" / "study.journal"), "plugfile", None).meta
    assert [p["module"] for p in meta["plugins"]] == ["myplug"]


def test_environment_plugins_with_a_separate_worker(tmp_path):
    (tmp_path / "userplug").mkdir()
    write_plugin(tmp_path / "userplug" / "envplug.py")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "userplug")]),
           "GANBENCH_PLUGINS": "envplug"}
    s = spec(tmp_path, "plugenv", None)
    res = tmp_path / "results"
    r = cli("sweep", s, "--workers", "0", "--results", res, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # A worker that cannot import the plugin refuses at once, one line, claiming nothing.
    bare = cli("worker", "plugenv", "--results", res, "--device", "cpu", cwd=tmp_path,
               env={"GANBENCH_PLUGINS": ""})
    assert bare.returncode == 2, bare.stdout + bare.stderr
    err = bare.stderr.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    assert "plugin 'envplug'" in err and "no module named 'envplug'" in err
    q = Queue(str(res / "plugenv" / "study.journal"), "plugenv", None)
    assert q.counts()["queued"] == 4 and q.counts()["running"] == 0
    # The plugin importable here (PYTHONPATH), GANBENCH_PLUGINS not even needed.
    r = cli("worker", "plugenv", "--results", res, "--device", "cpu", "--threads", "1",
            cwd=tmp_path, env={**env, "GANBENCH_PLUGINS": ""})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "plugins envplug@" in r.stdout
    r = cli("report", "plugenv", "--results", res, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    children, parents = runs_of(res, "plugenv")
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}
    for run in children + parents:
        assert run.data.tags.get("ganbench.plugins", "").startswith("envplug@")
    assert "tpd" in (res / "plugenv" / "report.md").read_text()


API = """
import ganbench, torch

@ganbench.register_trick("nb_penalty")     # a notebook's own trick, in __main__
class NbPenalty(ganbench.Trick):
    '''A tiny L2 penalty on D's fake logits.'''
    class Params(ganbench.TrickParams):
        weight: float = 0.01
    def d_terms(self, ctx):
        return {"nb": self.params.weight * ctx.d_fake.pow(2).mean()}

spec = {"name": "api", "plugins": ["ganbench_ring16"],
        "base": {"dataset": "ring16", "model": "mlp", "steps": 20, "batch_size": 32,
                 "log_every": 10, "eval_samples": 256},
        "tricks": {"drift": ["off", "on"], "nb_penalty": ["off", "on"]}, "seeds": 1,
        "metric": {"name": "modes", "goal": "max"}}
try:
    ganbench.sweep(spec, workers=2, results="res")
except ValueError as e:
    print("REFUSED", e)
rep = ganbench.sweep(spec, results="res")     # workers=1: in this process
df = ganbench.load_runs("api", results="res")
print("ROWS", len(df), sorted(df["status"]), sorted(df["cell"]))
print("COLS", list(df.columns))
print("TRICKS", df["drift"].tolist(), df["nb_penalty"].tolist())
print("RANKED", sorted(rep.groups[0].ranked["cell"]))
"""


def test_python_api_sweep_and_load_runs_with_the_example_plugin(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "examples" / "plugin")])}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(API)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert "trick 'nb_penalty' is registered in __main__" in out["REFUSED"]
    assert "workers=1" in out["REFUSED"]
    assert out["ROWS"].startswith("4 ['finished', 'finished', 'finished', 'finished']")
    cols = eval(out["COLS"])  # noqa: S307 - our own print of a list of strings
    assert cols[:5] == ["run_id", "run_name", "cell", "seed", "status"]
    assert {"modes", "drift", "nb_penalty", "hq", "modes_hq"} <= set(cols)
    assert sorted(eval(out["TRICKS"].split("] ")[0] + "]")) == [0, 0, 1, 1]  # noqa: S307
    assert len(eval(out["RANKED"])) == 4  # noqa: S307
