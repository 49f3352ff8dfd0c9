"""Issue 31, items 3, 5 and 6: `sweep --workers 0` prints worker, status and report commands
that work pasted in another folder; `report` before any worker says how to start one; the
report's files (and their MLflow copies) get the user's umask, summary.csv included."""

from __future__ import annotations

import os
import shlex
import stat
import textwrap

import pytest
from helpers.cli import assert_user_error, invoke

SPEC = """
name: paste
base: {dataset: ring8, model: mlp, steps: 20, batch_size: 32, log_every: 10,
       eval_samples: 256}
tricks:
  spectral_norm: [off, on]
seeds: 1
metric: {name: modes, goal: max}
"""


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def printed(output: str, verb: str) -> list[str]:
    """The printed `ganbench VERB ...` command line, as a shell would split it."""
    line = next(ln.strip() for ln in output.splitlines()
                if ln.strip().startswith(f"ganbench {verb} "))
    return shlex.split(line)[1:]


def test_enqueue_only_prints_commands_that_work_from_another_folder(tmp_path, monkeypatch,
                                                                    umask_022):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    (here / "paste.yaml").write_text(textwrap.dedent(SPEC))
    monkeypatch.chdir(here)
    r = invoke("sweep", "paste.yaml", "--workers", "0", "--results", "res")
    assert r.exit_code == 0, r.output
    worker, status, report = (printed(r.output, v) for v in ("worker", "status", "report"))

    monkeypatch.chdir(elsewhere)
    err = assert_user_error(invoke(*report), "no runs yet", "ganbench worker paste --results "
                            f"{here / 'res'}")
    assert "ganbench sweep FILE` first" not in err
    r = invoke(*status)
    assert r.exit_code == 0 and "2 queued" in r.output, r.output
    r = invoke(*worker, "--device", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.output
    r = invoke(*report)
    assert r.exit_code == 0, r.output
    assert not (elsewhere / "res").exists() and not (elsewhere / "runs").exists()

    folder = here / "res" / "paste"
    for name in ("report.md", "report.tex", "runs.csv", "summary.csv", "plan.json",
                 "spec.yaml"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644, name
    copies = [p for p in (here / "res" / "mlartifacts").rglob("*")
              if p.is_file() and p.name in ("report.md", "summary.csv", "plan.json")]
    assert {p.name for p in copies} == {"report.md", "summary.csv", "plan.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in copies)
