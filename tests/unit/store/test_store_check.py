"""Issue 27, class 8: a damaged mlflow.db (truncated, one page flipped, not SQLite) is one line
naming the file and the way out, on every command that opens it; a new store is created whole
(a full disk mid-migration left a half-migrated file that failed every later command)."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from helpers.cli import assert_user_error, invoke

from ganbench.store import mlflow as tm
from ganbench.store.check import StoreDamagedError, check_store_file


@pytest.fixture
def db(tmp_path):
    p = tmp_path / "mlflow.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("CREATE INDEX by_name ON runs (name)")
    con.executemany("INSERT INTO runs (name) VALUES (?)", [(f"run-{i:05d}" * 4,)
                                                           for i in range(3000)])
    con.commit()
    con.close()
    return p


def test_a_sound_store_passes(db):
    check_store_file(db)


KILLED_WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size=2")  # pages spill to the file mid-transaction
con.execute("BEGIN")
con.execute("UPDATE runs SET name = name || 'x'")
os.kill(os.getpid(), signal.SIGKILL)  # as a sweep killed mid-write: no rollback, no commit
"""


def test_a_writer_killed_mid_transaction_is_not_damage(db):
    """A SIGKILLed writer leaves a hot journal and half-written pages. SQLite rolls them back
    when the store is next opened for writing; a read-only check cannot, and called a sound
    store damaged ("attempt to write a readonly database"), telling the user to move it
    aside and rerun everything (seen in a clean-clone run of the killed-search resume test)."""
    import subprocess
    import sys

    before = sqlite3.connect(db).execute("SELECT group_concat(name) FROM runs").fetchone()
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], capture_output=True)
    assert r.returncode == -9
    journal = db.with_name(db.name + "-journal")
    assert journal.is_file() and journal.stat().st_size > 0  # the hot journal is there
    check_store_file(db)  # not damage
    con = sqlite3.connect(db)  # and the store is as it was before the killed transaction
    assert con.execute("SELECT group_concat(name) FROM runs").fetchone() == before
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.parametrize("damage", ["truncate", "flip", "header"])
def test_a_damaged_store_is_one_line(db, damage):
    data = bytearray(db.read_bytes())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "flip":
        page = 4096 * (len(data) // 4096 // 2)  # a page in the middle: the index or the table
        data[page:page + 4096] = bytes(b ^ 0xFF for b in data[page:page + 4096])
    else:
        data[:16] = b"not a database!!"
    db.write_bytes(bytes(data))
    with pytest.raises(StoreDamagedError) as e:
        check_store_file(db)
    msg = str(e.value)
    assert msg.startswith(f"{db}: the MLflow store is damaged") and "\n" not in msg
    assert f"mv {db} {db}.bad" in msg


def test_report_names_the_damaged_store(db, tmp_path):
    db.write_bytes(db.read_bytes()[:20_000])
    r = invoke("report", "fz", "--results", tmp_path)
    assert_user_error(r, str(db), "damaged")


def test_a_full_disk_while_a_store_is_created_leaves_no_half_store(tmp_path, monkeypatch):
    made = []

    def full(tracking_uri):
        made.append(tracking_uri)
        path = tracking_uri.removeprefix("sqlite:///")
        with open(path, "wb") as f:  # half-migrated
            f.write(b"SQLite format 3\0" + bytes(100))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tm, "MlflowClient", full)
    from ganbench.store import template as store_template

    monkeypatch.setattr(store_template, "seed", lambda db: False)
    db = tmp_path / "res" / "mlflow.db"
    with pytest.raises(OSError):
        tm._open_client(f"sqlite:///{db}")
    assert made and not db.exists() and list(db.parent.iterdir()) == []
