"""The cost sentence says 'not at equal compute' only when counted steps differ."""

import pandas as pd

from ganbench.report.notes import cost_note


def ranked(seconds, d_steps):
    t = pd.DataFrame({"cost_seconds": seconds, "cost_d_steps": d_steps})
    t.attrs["costs"] = ["seconds", "d_steps"]
    return t


def test_wall_time_alone_is_not_called_unequal_compute():
    note = cost_note(ranked([10.0, 20.0], [1000, 1000]), 1)
    assert "wall s differ up to 2×" in note
    assert "equal compute" not in note and "not a controlled measure" in note


def test_counted_steps_that_differ_are_unequal_compute():
    note = cost_note(ranked([10.0, 50.0], [1000, 5000]), 1)
    assert "D steps differ up to 5×" in note and "not at equal compute" in note


def test_no_sentence_when_costs_are_alike():
    note = cost_note(ranked([10.0, 11.0], [1000, 1000]), 1)
    assert "differ" not in note
