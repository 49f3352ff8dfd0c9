"""An empty MLflow SQLite store kept as a template, so a new sweep's store is a file copy.

Creating a fresh SQLite store runs MLflow's whole chain of schema migrations (about a second
of CPU, in the serial start of every new sweep; results/perf/). The first store created on a
machine is saved, emptied of its one row of data (experiment 0, whose artifact location is
that store's own: MLflow re-creates it on opening, beside the new store), under the data
root, one file per MLflow version; later new stores start as a copy of it. Everything here is
best effort: a template that cannot be written or opened only means the migrations run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from importlib.metadata import version
from pathlib import Path

from ganbench.config import default_data_root


def template_path() -> Path:
    return default_data_root() / "mlflow-store" / f"empty-mlflow-{version('mlflow')}.db"


def seed(db: Path) -> bool:
    """Copy the template to `db` (which does not exist yet); False when there is none."""
    tpl = template_path()
    if db.exists() or not tpl.is_file():
        return False
    tmp = db.with_name(f"{db.name}.{os.getpid()}.seed")
    try:
        shutil.copyfile(tpl, tmp)
        os.replace(tmp, db)
    except OSError:
        _remove(tmp)
        return False
    return True


def save(db: Path) -> None:
    """Keep a just-created store `db` (schema and experiment 0 only) as the template."""
    tpl = template_path()
    if tpl.exists():
        return
    tmp = tpl.with_name(f"{tpl.name}.{os.getpid()}.tmp")
    try:
        tpl.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(db), sqlite3.connect(tmp)
        try:
            src.backup(dst)  # a consistent copy while MLflow's engine holds the file open
            rows = dst.execute("SELECT experiment_id FROM experiments").fetchall()
            if rows != [(0,)] or dst.execute("SELECT COUNT(*) FROM runs").fetchone()[0]:
                raise sqlite3.DatabaseError("not a just-created store")
            dst.execute("DELETE FROM experiments WHERE experiment_id = 0")
            dst.commit()
        finally:
            src.close()
            dst.close()
        os.replace(tmp, tpl)
    except (OSError, sqlite3.Error):
        _remove(tmp)


def discard() -> None:
    """Drop a template that did not open (MLflow refused it): the next store migrates."""
    _remove(template_path())


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
