"""Ctrl-C in the report is rc 130 with one line; in a command without its own handling too."""

from __future__ import annotations

from helpers.cli import invoke

import ganbench.report.build as build
import ganbench.store.mlflow as tracking


def test_ctrl_c_during_report_is_130_with_one_line(tmp_path, monkeypatch):
    res = tmp_path / "results"
    res.mkdir()
    (res / "mlflow.db").write_bytes(b"")
    monkeypatch.setattr(tracking, "MLflowStore", lambda uri: object())

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "report_sweep", interrupted)
    r = invoke("report", "fz", "--results", res)
    assert r.exit_code == 130, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0] and "ganbench report fz" in lines[0]
