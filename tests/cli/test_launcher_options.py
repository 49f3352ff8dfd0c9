"""`ganbench sweep --launcher`: every refusal is one line with exit code 2 and no traceback,
given before anything is opened; the command line wins over the file's `launcher:` block;
the Slurm launcher hands submitit the block's values (a fake executor stands in for it), and
records the jobs as JSON that `ganbench status` reads back."""

from __future__ import annotations

import json
import pickle
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.cli import assert_user_error, invoke, write

from ganbench.config import LauncherSpec, SweepSpec
from ganbench.sweep import launch
from ganbench.sweep.launchers import LAUNCHERS, slurm

SPEC = """
name: launchy
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 16, log_every: 10, eval_every: 20}
tricks:
  spectral_norm: [off, on]
seeds: 1
metric: {name: modes, goal: max}
"""
SHARED = ("--storage", "postgresql://u@127.0.0.1:9/q", "--tracking-uri", "http://127.0.0.1:9")


@pytest.fixture
def sbatch(monkeypatch):
    """sbatch on PATH, as on a login node (the checks never run it)."""
    monkeypatch.setattr(slurm, "which", lambda name: f"/usr/bin/{name}")


def sweep(tmp_path: Path, *args: str, text: str = SPEC):
    spec = write(tmp_path / "s.yaml", text)
    return invoke("sweep", spec, "--results", tmp_path / "res", *args)


def test_slurm_without_shared_queue_or_record_names_both(tmp_path, sbatch):
    assert_user_error(sweep(tmp_path, "--launcher", "slurm"), "--storage postgresql://",
                      "--tracking-uri http://", "local journal", "local SQLite")
    assert not (tmp_path / "res" / "launchy").exists()  # nothing planned or opened


@pytest.mark.parametrize(("args", "needle"), [
    (("--storage", "sqlite:///q.db", "--tracking-uri", "http://127.0.0.1:9"),
     "sqlite:///q.db is one machine's"),
    (("--storage", "postgresql://u@h/q", "--tracking-uri", "sqlite:///m.db"),
     "sqlite:///m.db is one machine's"),
    (("--storage", "journal:q.journal", "--tracking-uri", "http://127.0.0.1:9"), "--storage"),
])
def test_one_machine_queue_or_record_refused(tmp_path, sbatch, args, needle):
    assert_user_error(sweep(tmp_path, "--launcher", "slurm", *args), needle)


def test_slurm_options_need_a_slurm_launcher(tmp_path):
    assert_user_error(sweep(tmp_path, "--partition", "gpu", "--time", "60"),
                      "--partition, --time", "--launcher slurm")


@pytest.mark.parametrize(("args", "needles"), [
    (("--time", "soon"), ("--time soon", "HH:MM:SS")),
    (("--time", "0"), ("--time 0", "between 1 minute")),
    (("--workers", "0"), ("--workers 0 only enqueues", "number of jobs")),
])
def test_bad_slurm_options(tmp_path, sbatch, args, needles):
    assert_user_error(sweep(tmp_path, "--launcher", "slurm", *SHARED, *args), *needles)


def test_unknown_launcher(tmp_path):
    assert_user_error(sweep(tmp_path, "--launcher", "pbs"), "unknown launcher 'pbs'",
                      "local, slurm")


def test_bad_launcher_block_has_file_and_line(tmp_path):
    text = SPEC + "launcher: {name: slurm, gpus_per_task: -1}\n"
    assert_user_error(sweep(tmp_path, text=text), "s.yaml:7", "gpus_per_task")
    text = SPEC + "launcher: {name: slurm, grace_period: 10, heartbeat_interval: 30}\n"
    assert_user_error(sweep(tmp_path, text=text), "s.yaml", "longer than heartbeat_interval")


def test_no_sbatch_here(tmp_path, monkeypatch):
    monkeypatch.setattr(slurm, "which", lambda name: None)
    assert_user_error(sweep(tmp_path, "--launcher", "slurm", *SHARED),
                      "sbatch is not on PATH", "cluster: local")


def test_no_submitit(tmp_path, sbatch, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "submitit" else real(name, *a))
    assert_user_error(sweep(tmp_path, "--launcher", "slurm", *SHARED),
                      "pip install 'ganbench[slurm]'")


def test_command_line_wins_over_the_file(sbatch):
    from ganbench.cli.launch import resolve

    spec = SweepSpec.model_validate({"name": "x", "launcher": {
        "name": "slurm", "partition": "cpu", "time": "2:00:00", "cpus_per_task": 4}})
    cls, lspec = resolve(spec, None, {"--partition": "gpu", "--time": None,
                                      "--gpus-per-task": 1, "--cpus-per-task": None,
                                      "--array-parallelism": 3})
    assert cls is LAUNCHERS.get("slurm")
    assert (lspec.partition, lspec.time, lspec.cpus_per_task, lspec.gpus_per_task,
            lspec.array_parallelism) == ("gpu", 120, 4, 1, 3)
    _, lspec = resolve(spec, "local", dict.fromkeys(("--partition", "--time")))
    assert lspec.name == "local"


# ------------------------------------------------------------ the launcher, fake executor


class FakeJob:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id


class FakeExecutor:
    made: list[FakeExecutor] = []

    def __init__(self, folder: Path, cluster: str) -> None:
        self.folder, self.cluster, self.params, self.submitted = folder, cluster, {}, []
        self.batches = 0
        FakeExecutor.made.append(self)

    def update_parameters(self, **kw) -> None:
        self.params.update(kw)

    @contextmanager
    def batch(self):
        self.batches += 1
        yield

    def submit(self, fn) -> FakeJob:
        pickle.dumps(fn)  # submitit pickles it into its folder: it must pickle
        self.submitted.append(fn)
        return FakeJob(f"4242_{len(self.submitted) - 1}")


@dataclass
class FakeStore:
    uri: str = "http://mlflow:5000"


@dataclass
class FakeSpec:
    name: str = "launchy"


@dataclass
class FakeSweep:
    folder: Path
    storage: str = "postgresql://u@db/q"
    store: FakeStore = field(default_factory=FakeStore)
    spec: FakeSpec = field(default_factory=FakeSpec)


def test_slurm_launcher_submits_one_array_and_records_it(tmp_path, monkeypatch):
    from ganbench.sweep.runner import SweepOptions

    FakeExecutor.made.clear()
    monkeypatch.setattr(slurm, "make_executor", FakeExecutor)
    lspec = LauncherSpec(name="slurm", partition="gpu", time="1-00:00:00", gpus_per_task=1,
                         cpus_per_task=8, array_parallelism=4)
    sw = FakeSweep(tmp_path / "launchy")
    opts = SweepOptions(results=tmp_path, device="cuda", checkpoint_every=100)
    launcher = LAUNCHERS.get("slurm")(sw, opts, lspec)
    ids = launcher.submit(3)
    (ex,) = FakeExecutor.made
    assert ids == ["4242_0", "4242_1", "4242_2"] and ex.batches == 1
    assert ex.cluster == "slurm" and ex.folder == (sw.folder / "submitit").resolve()
    assert ex.params == {"name": "ganbench-launchy", "timeout_min": 1440, "nodes": 1,
                         "tasks_per_node": 1, "cpus_per_task": 8, "slurm_partition": "gpu",
                         "slurm_gpus_per_task": 1, "slurm_array_parallelism": 4}
    job = ex.submitted[0]
    assert job.fields["storage"] == "postgresql://u@db/q"
    assert job.fields["tracking_uri"] == "http://mlflow:5000"
    assert job.fields["device"] == "cuda" and job.fields["checkpoint_every"] == 100

    sw.folder.mkdir()
    entry = launch.record_submission(sw.folder, "slurm", ids, launcher.details())
    rec = json.loads((sw.folder / "launch.json").read_text())
    assert rec == launch.read_record(sw.folder) and rec["submissions"] == [entry]
    assert entry["log_folder"] == str(ex.folder) and entry["cluster"] == "slurm"


def test_sbatch_refusal_is_one_line(tmp_path, monkeypatch):
    from ganbench.sweep.runner import SweepOptions

    class Refusing(FakeExecutor):
        def submit(self, fn):
            raise RuntimeError("sbatch: error: invalid partition specified: gpu\nmore")

    monkeypatch.setattr(slurm, "make_executor", Refusing)
    launcher = LAUNCHERS.get("slurm")(FakeSweep(tmp_path), SweepOptions(),
                                      LauncherSpec(name="slurm", partition="gpu"))
    with pytest.raises(ValueError, match="the submission failed: more"):
        launcher.submit(1)


def test_worker_job_pickles_its_settings_only(tmp_path):
    job = slurm.WorkerJob("s", "postgresql://u@db/q", "http://m:5000", str(tmp_path))
    job._pids.add("123")
    again = pickle.loads(pickle.dumps(job))
    assert again.fields == job.fields and again._pids == set()
    fresh = job.checkpoint()  # no worker alive: it returns at once
    assert fresh.function.fields == job.fields and fresh.function is not job


def test_damaged_record_is_one_line(tmp_path):
    (tmp_path / "launch.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a ganbench launch record"):
        launch.read_record(tmp_path)
    assert launch.read_record(tmp_path / "none") is None


def test_status_lists_recorded_jobs(tmp_path, monkeypatch):
    from rich.console import Console

    from ganbench.cli.launch import print_jobs

    launch.record_submission(tmp_path, "slurm", ["1", "2"],
                             {"cluster": "local", "log_folder": str(tmp_path / "logs")})
    out = Console(record=True, width=200)
    print_jobs(tmp_path, out)
    text = out.export_text()
    assert "1" in text and "2" in text and "ENDED" in text and str(tmp_path / "logs") in text
