"""Issue 27, class 8: a sweep with runs missing (a worker crashed, runs unfinished) wrote its
report and exited 0. It still writes the report of what finished, then exits 1 with one
`error:` line saying how many runs have no result and the command that resumes them."""

from __future__ import annotations

from helpers.cli import invoke

from ganbench.sweep import runner

SPEC = "name: ex\nbase: {dataset: ring8, steps: 4, batch_size: 8}\ntricks:\n  ttur: [off, on]\n"


def test_a_sweep_whose_workers_crashed_exits_non_zero_and_says_how_to_resume(tmp_path,
                                                                             monkeypatch):
    spec = tmp_path / "ex.yaml"
    spec.write_text(SPEC + "seeds: 1\n")
    monkeypatch.setattr(runner, "run_workers",
                        lambda *a, **kw: {"crashed_workers": 1, "disk_full": 0})
    r = invoke("sweep", spec, "--results", tmp_path / "res")
    assert r.exit_code == 1, r.output
    err = r.stderr.strip()
    assert err.startswith("error: 2 run(s) have no result (1 worker(s) crashed")
    assert "Resume with `ganbench sweep" in err and str(spec) in err and "\n" not in err
    assert "Traceback" not in r.output
    assert "no report" in r.stdout  # nothing finished: nothing to rank


def test_with_some_runs_finished_the_report_is_written_then_exit_1(tmp_path, monkeypatch):
    spec = tmp_path / "ex.yaml"
    spec.write_text(SPEC + "seeds: 1\n")
    assert invoke("sweep", spec, "--results", tmp_path / "res").exit_code == 0
    spec.write_text(SPEC + "seeds: 2\n")  # grown: two new runs, whose worker "crashes"
    monkeypatch.setattr(runner, "run_workers",
                        lambda *a, **kw: {"crashed_workers": 1, "disk_full": 0})
    r = invoke("sweep", spec, "--results", tmp_path / "res")
    assert r.exit_code == 1, r.output
    assert "written:" in r.stdout and r.stderr.strip().startswith("error: 2 run(s)")
