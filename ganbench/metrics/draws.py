"""Evaluation draws: one generator scored k times, each time with fresh latent samples, so
that evaluation noise (what a published "±" of one run usually is) can be told apart from
seed-to-seed (training) noise, which is what the report's ± and intervals show.

Draw 0 is the evaluation every run has always had (its seed unchanged), so one draw
reproduces earlier numbers exactly and the recorded value of a run does not depend on k.
Draws 1..k-1 take seeds derived from the run's seed and the draw's index: reproducible, and
independent of training's RNG streams.
"""

from __future__ import annotations

import hashlib
import math
import statistics

EVAL_MEAN, EVAL_SD = "_eval_mean", "_eval_sd"  # suffixes of the logged summaries


def draw_seed(first: int, run_seed: int, draw: int, stream: str) -> int:
    """The seed of evaluation draw `draw`: `first` (today's seed) for draw 0; otherwise a
    32-bit value (numpy's seed range, as torch-fidelity needs) hashed from the run seed, the
    draw and the stream's name ("z", "fidelity"), so streams and draws never share a seed."""
    if draw == 0:
        return first
    h = hashlib.sha256(f"ganbench-eval/{stream}/{run_seed}/{draw}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def summarise(draws: list[dict[str, float]], names: set[str] | dict[str, str]
              ) -> dict[str, float]:
    """`<m>_eval_mean` and `<m>_eval_sd` (sample sd, n − 1) over the draws of each metric in
    `names`, over the draws where it is defined (finite); left out where fewer than two
    draws have a value (nothing measured; never a 0 that would read as "no noise")."""
    out: dict[str, float] = {}
    for m in draws[0] if draws else {}:
        if m not in names:
            continue
        vals = [float(d[m]) for d in draws if m in d and math.isfinite(float(d[m]))]
        if len(vals) < 2:
            continue
        out[m + EVAL_MEAN] = statistics.fmean(vals)
        out[m + EVAL_SD] = statistics.stdev(vals)
    return out
