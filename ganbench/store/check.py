"""Whether an existing MLflow SQLite store can be read, asked before MLflow opens it.

A truncated or damaged mlflow.db (a full disk, a copy cut short, one flipped page) gave
113-145-line tracebacks from MLflow and SQLAlchemy on `sweep` and `report`; the journal got a
file:line and a hint, the store nothing. The header and SQLite's quick check (milliseconds for
the stores sweeps make) answer in one line naming the file and the way out.
"""

from __future__ import annotations

from pathlib import Path

QUICK_CHECK_BYTES = 512 << 20  # stores larger than this get the header check only


class StoreDamagedError(ValueError):
    """The MLflow store's SQLite file is damaged; the message names it and the way out."""


def check_store_file(db: Path) -> None:
    """StoreDamagedError (one line) when the SQLite file is not a database or fails SQLite's
    quick check: a truncated or flipped-page mlflow.db gave 113-145-line tracebacks."""
    import sqlite3

    def damaged(why: str) -> StoreDamagedError:
        return StoreDamagedError(
            f"{db}: the MLflow store is damaged ({why}); restore it from a backup, or move "
            f"it aside (mv {db} {db}.bad) to start a new record: the next sweep then reruns "
            "every run")

    from ganbench.safefile import NotAFileError, regular_file

    try:
        size = regular_file(db, "MLflow store")  # a FIFO would block the open below
        with open(db, "rb") as f:
            head = f.read(16)
    except NotAFileError as e:
        raise StoreDamagedError(str(e)) from None
    except OSError as e:
        raise StoreDamagedError(f"{db}: cannot read the MLflow store ({e.strerror})") from None
    if size == 0:
        return  # an empty file is made into a store by MLflow
    if head != b"SQLite format 3\0":
        raise damaged("not an SQLite database")
    if size > QUICK_CHECK_BYTES:
        return
    def quick_check(mode: str) -> list:
        con = sqlite3.connect(f"file:{db}?mode={mode}", uri=True, timeout=30)
        try:
            return con.execute("PRAGMA quick_check(1)").fetchall()
        finally:
            con.close()

    try:
        try:
            rows = quick_check("ro")
        except sqlite3.OperationalError as e:
            if "readonly" not in str(e):
                raise
            # A writer killed mid-transaction left a hot journal, which only a read-write
            # connection may roll back (SQLite does so on open, as MLflow's would): that is
            # the store as it was before the killed write, not damage.
            rows = quick_check("rw")
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            return  # a writer holds it: not damage
        raise damaged(str(e).splitlines()[0][:120]) from None
    except sqlite3.DatabaseError as e:
        raise damaged(str(e).splitlines()[0][:120]) from None
    if rows != [("ok",)]:
        raise damaged(str(rows[0][0]).splitlines()[0][:120] if rows else "quick_check failed")
