"""benchmarks/calibration's plugin tricks load and pass `ganbench tricks verify -p FILE`."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.cli import invoke

from ganbench.tricks import TRICKS

PLUGIN = Path(__file__).parents[2] / "benchmarks" / "calibration" / "calibration_tricks.py"


def test_calibration_tricks_load_and_verify():
    with TRICKS.scoped():
        r = invoke("tricks", "verify", "-p", str(PLUGIN), "aa_null", "planted_noise")
    assert r.exit_code == 0, r.output
    assert re.search(r"aa_null: \d+ passed, 0 failed", r.output)
    assert re.search(r"planted_noise: \d+ passed, 0 failed", r.output)
