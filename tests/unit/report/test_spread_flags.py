"""Cells without spread are named by where they sit: the metric's declared bound first."""

from __future__ import annotations

import pandas as pd

from ganbench.report.stats import spread_flags


def _t(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"cell": c, "seed": i, "value": v} for c, vs in values.items()
            for i, v in enumerate(vs)]
    t = pd.DataFrame(rows)
    t.attrs.update(metric="modes", dataset="ring8")  # modes on ring8: 0..8
    return t


def test_every_run_at_the_declared_maximum_is_at_the_ceiling_not_the_floor():
    assert spread_flags(_t({"a": [8, 8, 8], "b": [8, 8, 8]})) == {"a": "ceiling",
                                                                  "b": "ceiling"}


def test_at_the_declared_minimum_or_the_lowest_value_is_the_floor():
    assert spread_flags(_t({"a": [0, 0], "b": [5, 7]})) == {"a": "floor"}
    assert spread_flags(_t({"a": [3, 3], "b": [5, 7]})) == {"a": "floor"}
    assert spread_flags(_t({"a": [7, 7], "b": [5, 6]})) == {"a": "ceiling"}
    assert spread_flags(_t({"a": [6, 6], "b": [5, 7]})) == {"a": "no spread"}
