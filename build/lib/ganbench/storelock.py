"""One lock around the first opening of a SQLite store (the MLflow record, an Optuna study).

Opening a fresh SQLite store creates its tables; two processes doing that at once race
(`table params already exists`). A lock file beside the database serialises the opening;
after that SQLite's own locking serves concurrent writers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL, or None (a server, a memory database)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?")[0]
    return None if path in ("", ":memory:") else Path(path)


@contextlib.contextmanager
def first_creation_lock(url: str, timeout: float = 600) -> Iterator[None]:
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=timeout):
        yield
