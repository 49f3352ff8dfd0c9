"""Checks of a local study journal (one JSON object per line), before Optuna reads it.

A full disk or a kill mid-append can leave a partial last line. Optuna skips it when reading
but appends the next line onto it, which turns a harmless torn tail into a corrupt line in
the middle of the file that no later read gets past. So every open checks the file (under
the journal's own write lock): a bad last line is copied aside and cut off; a bad line
before the end is refused with its place and the way to rebuild the queue.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path


class JournalCorruptError(ValueError):
    """A line before the end of the journal is not a journal entry."""


def _bad(line: bytes) -> bool:
    if not line.endswith(b"\n"):
        return True
    try:
        json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return True
    return False


def repair(path: Path, rebuild_hint: str) -> str | None:
    """Cut a torn last line off `path` (keeping a copy beside it) and say so in one line;
    None when the file is whole. Call with the journal's write lock held."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as f:
        lines = f.readlines()
    good = 0  # bytes of whole lines before the first bad one
    for i, line in enumerate(lines):
        if not _bad(line):
            good += len(line)
            continue
        if i < len(lines) - 1:
            raise JournalCorruptError(
                f"{path}:{i + 1}: corrupt journal line (not a whole JSON entry), "
                f"{len(lines) - i - 1} line(s) before the end; {rebuild_hint}")
        aside = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            shutil.copy2(path, aside)
        except BaseException:  # no space for the copy: leave no half copy, repair nothing
            aside.unlink(missing_ok=True)
            raise
        with open(path, "r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
        return (f"repaired {path}: its last line ({len(line)} bytes, line {i + 1}) was cut "
                f"off mid-write (disk full or a kill); the file as it was is kept in {aside}")
    return None


def rebuild_hint(path: Path) -> str:
    """How to rebuild a study from the MLflow record, which holds every finished run."""
    return (f"to rebuild the queue from the MLflow record (it holds every finished run), move "
            f"the journal aside (mv {path} {path}.bad) and rerun the same `ganbench sweep FILE`")
