"""Sweeps write to the git-ignored runs/ by default, or where --results or GANBENCH_RESULTS say."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import assert_user_error, invoke

from ganbench.cli.common import results_folder


def test_default_is_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANBENCH_RESULTS")
    assert results_folder(None) == Path("runs")
    assert results_folder(tmp_path / "mine") == tmp_path / "mine"


def test_a_store_under_the_old_default_is_not_picked_up(tmp_path, monkeypatch):
    # results/ was the default before 0.2; it is no longer searched (pass --results results).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANBENCH_RESULTS")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "mlflow.db").write_bytes(b"")
    assert results_folder(None) == Path("runs")


def test_report_without_results_looks_in_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANBENCH_RESULTS")
    r = invoke("report", "nosuch")
    assert_user_error(r, "no MLflow store at", "runs/mlflow.db")
    assert not (tmp_path / "runs" / "mlflow.db").exists()


def test_the_environment_names_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_RESULTS", str(tmp_path / "mine"))
    assert results_folder(None) == tmp_path / "mine"
    assert results_folder(Path("x")) == Path("x")  # --results wins


def test_run_puts_its_folder_under_results_beside_its_record(tmp_path, monkeypatch):
    """Issue 31, item 4: `run --results DIR` put the MLflow record in DIR, the folder in runs/."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANBENCH_RESULTS")
    (tmp_path / "r.yaml").write_text("dataset: ring8\nmodel: mlp\nsteps: 2\nbatch_size: 8\n"
                                     "eval_samples: 64\n")
    r = invoke("run", "r.yaml", "--results", "mine", "--device", "cpu")
    assert r.exit_code == 0, r.output
    (folder,) = [p for p in (tmp_path / "mine").iterdir() if p.name.startswith("r-")]
    assert (folder / "metrics.json").is_file() and (tmp_path / "mine" / "mlflow.db").is_file()
    assert not (tmp_path / "runs").exists()
