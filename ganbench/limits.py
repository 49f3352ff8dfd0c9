"""Every limit on a number a user writes, in one place (docs/limits.md).

A number can be valid and still impossible to run: an infinite learning rate trains NaNs, a
step count beyond int64 never ends, a tuning budget of 10^9 trials per cell is enqueued
without end. Three kinds of check, each written once:

- `sane(v)`: every number anywhere in a run, sweep or trick configuration is finite and at
  most MAX_INT / MAX_FLOAT in size (a `field_validator("*")` on the config and trick-params
  base classes, so plugins' tricks get it too);
- the per-field ranges below, used as pydantic `le=` bounds (file:line comes with them);
- `work_limit(...)`: every count that becomes work (runs = cells x seeds, plus a tuned sweep's
  trials) against the one `--max-runs` limit, with its size.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_INT = 2**32 - 1  # any integer setting (numpy's seed range; no count beyond it can run)
MAX_FLOAT = 1e12  # any real setting, in absolute value
MAX_SEED = 2**32 - 1
MAX_STEPS = 10_000_000  # training steps (and log/eval intervals, pruner warm-up)
MAX_BATCH = 65_536  # batch_size, fid_batch_size
MAX_LR = 1e6  # a learning rate: finite and bounded; divergence tests train at 1e6
MAX_SAMPLES = 1_000_000  # eval_samples, fid_samples, fid_real_samples
MAX_EVAL_REPEATS = 1_000  # eval_repeats, score --repeats: draws of the final evaluation
MAX_WIDTH = 16_384  # z_dim, g_width, d_width
MAX_EVAL_WORK = 1_000_000_000  # samples one run generates for all its evaluations
MAX_RUNS = 10_000_000  # the most --max-runs may allow: runs of one sweep, trials included
MAX_PROCESSES = 256  # --workers, --processes, --per-gpu
MAX_THREADS = 1024  # --threads
MAX_SECONDS = 7 * 86_400  # --heartbeat-interval, --grace-period
MAX_NAME = 100  # a sweep's name: a folder, a journal file and an MLflow experiment name
NAME_RULE = (f"letters, digits, '.', '_' and '-', starting with a letter or digit, at most "
             f"{MAX_NAME} characters")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def sane(value: Any, _depth: int = 0) -> Any:
    """`value` unchanged, or ValueError for the first number in it that is not finite or is
    too large to run (nested lists, tuples and mappings included)."""
    if isinstance(value, bool) or _depth > 60:
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ValueError(f"{_short(value)} is too large (limit {MAX_INT:,})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        if abs(value) > MAX_FLOAT:
            raise ValueError(f"{value:g} is too large (limit {MAX_FLOAT:g})")
    elif isinstance(value, dict):
        for v in value.values():
            sane(v, _depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            sane(v, _depth + 1)
    return value


def _short(n: int) -> str:
    digits = len(str(abs(n)))
    return f"{n:,}" if digits <= 24 else f"a {digits}-digit number"


def work_message(what: str, n: int, limit: int, option: str = "--max-runs") -> str | None:
    """None when `n` units of work fit the limit, else the sentence saying so."""
    if n <= limit:
        return None
    return (f"{what} = {n:,} runs, over the limit of {limit:,}; raise it with "
            f"{option} {n} if you mean it")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a sweep's name (a folder under --results, a journal, an MLflow
    experiment), or None. Checked where a name is read: the sweep file and every command
    that is given one (the file system would answer `File name too long` mid-run)."""
    if len(name) > MAX_NAME:
        return (f"a name of {len(name):,} characters is too long for a folder name ("
                f"{NAME_RULE})")
    if not _NAME.fullmatch(name):
        return f"{name!r} cannot be a folder name: use {NAME_RULE}"
    return None


def eval_work(steps: int, eval_every: int, per_evaluation: int, repeats: int = 1
              ) -> tuple[int, int]:
    """(evaluations, samples generated in all of them) of one run: one at every `eval_every`
    steps and one at the end (eval_every 0: the end only), the end's drawn `repeats` times."""
    evals = (steps // eval_every + (steps % eval_every > 0)) if eval_every else 1
    evals += repeats - 1
    return evals, evals * per_evaluation
