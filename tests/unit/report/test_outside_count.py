"""Issue 31, item 9: "0% outside" was printed beside samples drawn outside the data."""

from __future__ import annotations

import numpy as np

from ganbench.report.samples import outside_label


def test_a_few_samples_outside_are_counted_not_rounded_to_0_percent():
    out = np.zeros(2000, dtype=bool)
    out[:3] = True
    assert outside_label(out) == "3 of 2,000"
    out[:200] = True
    assert outside_label(out) == "10%"
