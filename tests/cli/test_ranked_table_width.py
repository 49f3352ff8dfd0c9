"""The ranked table printed at 80 columns: one line per cell, numbers never wrapped."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pandas as pd
from rich.console import Console

from ganbench.cli.common import print_ranked

CELLS = ["ttur+label_smoothing+spectral_norm", "baseline", "ema+r1+dragan"]


def _rep():
    ranked = pd.DataFrame({
        "cell": CELLS, "rank": [1, 1, 3], "tied": [True, True, False],
        "mean": [7.3333333, 6.6666667, 0.33333333], "std": [0.57735027, 1.1547005, 0.57735027],
        "ci_low": [5.8991, 3.7982, -1.1009], "ci_high": [8.7676, 9.5351, 1.7676],
        "n_finished": [3, 3, 3], "n_diverged": [0, 0, 12], "n_failed": [0, 0, 0]})
    return SimpleNamespace(metric="modes_hq", protocol_column="protocol",
                           groups=[SimpleNamespace(protocol=None, ranked=ranked, headline=[])])


def _print(width: int) -> str:
    buf = io.StringIO()
    print_ranked(_rep(), Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def test_at_80_columns_every_cell_is_one_whole_line():
    out = _print(80)
    lines = out.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    for cell, numbers in zip(CELLS, ["7.33 ± 0.577", "6.67 ± 1.15", "0.333 ± 0.577"],
                             strict=True):
        row = [ln for ln in lines if cell in ln]
        assert len(row) == 1, out  # the name whole, on one line
        assert numbers in row[0] and "[" in row[0] and "]" in row[0], out
    assert "3/0/0" in out and "3/12/0" in out and "runs = finished/diverged/failed" in out


def test_wide_terminals_keep_one_column_per_count():
    out = _print(160)
    assert "modes_hq mean ± std" in out and "diverged" in out
    assert "finished/diverged/failed" not in out
