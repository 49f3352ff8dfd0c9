"""`ganbench sweep --workers 0`, `ganbench worker` and `ganbench status` on a local journal and
a SQLite RDB study (the PostgreSQL + mlflow server path is tests/integration/test_cluster.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpers.cli import assert_user_error, invoke

SPEC = """
name: tiny
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 32, log_every: 10,
       eval_samples: 256}
tricks:
  spectral_norm: [off, on]
seeds: 1
metric: {name: modes, goal: max}
"""


def spec(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(textwrap.dedent(SPEC))
    return p


def test_enqueue_only_then_a_worker_drains_the_queue(tmp_path):
    res = tmp_path / "results"
    r = invoke("sweep", spec(tmp_path), "--workers", "0", "--results", res)
    assert r.exit_code == 0, r.output
    assert "2 to run" in r.output and "ganbench worker tiny" in r.output
    assert not (res / "tiny" / "report.md").exists()  # nothing trained, nothing reported

    r = invoke("status", "tiny", "--results", res)
    assert r.exit_code == 0, r.output
    assert "0 done, 0 running, 2 queued" in r.output

    r = invoke("worker", "tiny", "--results", res, "--device", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert r.output.count("finished") >= 2

    r = invoke("status", "tiny", "--results", res)
    assert "2 done, 0 running, 0 queued" in r.output


def test_worker_on_a_shared_sqlite_study_waits_for_nothing_and_records_runs(tmp_path):
    res = tmp_path / "results"
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    r = invoke("sweep", spec(tmp_path), "--workers", "0", "--results", res, "--storage", url)
    assert r.exit_code == 0, r.output
    assert f"--storage {url}" in r.output
    r = invoke("worker", "tiny", "--storage", url, "--results", res, "--device", "cpu",
               "--threads", "1", "--heartbeat-interval", "1", "--grace-period", "3")
    assert r.exit_code == 0, r.output
    r = invoke("status", "tiny", "--storage", url)
    assert "2 done" in r.output


def test_unknown_sweeps_and_bad_settings_are_user_errors(tmp_path):
    res = tmp_path / "results"
    assert_user_error(invoke("worker", "nosuch", "--results", res), "no local sweep 'nosuch'",
               "--storage")
    assert_user_error(invoke("status", "nosuch", "--results", res), "no local sweep 'nosuch'")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    invoke("sweep", spec(tmp_path), "--workers", "0", "--results", res, "--storage", url)
    assert_user_error(invoke("status", "tny", "--storage", url), "no sweep named 'tny'", "tiny")
    assert_user_error(invoke("worker", "tiny", "--storage", url, "--heartbeat-interval", "10",
                      "--grace-period", "5"), "--grace-period (5) must be longer")
    err = assert_user_error(invoke("status", "tiny", "--storage",
                            "postgresql://me:secret@127.0.0.1:1/optuna"),
                     "storage database at 127.0.0.1:1 did not answer")  # checked first
    assert "secret" not in err  # passwords never reach the terminal


def test_exit_when_empty_leaves_runs_in_flight_to_their_workers(tmp_path):
    from ganbench.sweep.scheduler import Liveness, Queue

    res = tmp_path / "results"
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert invoke("sweep", spec(tmp_path), "--workers", "0", "--results", res,
                  "--storage", url).exit_code == 0
    other = Queue(url, "tiny", None, liveness=Liveness(60, 600))
    held = other.claim()  # another worker's run, alive (fresh heartbeat)
    assert held is not None
    r = invoke("worker", "tiny", "--storage", url, "--results", res, "--device", "cpu",
               "--threads", "1", "--exit-when-empty")
    assert r.exit_code == 0, r.output
    c = other.counts()
    assert (c["finished"], c["running"], c["queued"]) == (1, 1, 0)
    assert [t.number for t in other.running()] == [held.number]
