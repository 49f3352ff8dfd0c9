"""The launcher seam: where a sweep's workers run.

A launcher takes a sweep that is planned and enqueued (`runner.prepare`) and starts workers on
it: `submit(n_workers)` returns the ids of what it started, `status(ids)` their states. Two are
built in (ganbench/sweep/launchers/): `local`, worker processes under this command, which it
follows to the end (`blocking`); and `slurm`, a Slurm job array submitted through submitit,
which returns at once and leaves the jobs to pull runs from the shared queue. More register in
`LAUNCHERS` (a plugin's `@LAUNCHERS.register("name")`).

What was submitted is recorded as JSON in the sweep's results folder (`launch.json`), which
`ganbench status` reads; submitit's own pickles stay in its own folder (see launchers/slurm.py).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from ganbench.atomic import write_atomic
from ganbench.registry import Registry

if TYPE_CHECKING:
    from ganbench.config import LauncherSpec
    from ganbench.sweep.runner import Sweep, SweepOptions

RECORD = "launch.json"
MAX_RECORD_BYTES = 4_000_000  # a record this large was not written by us: refuse to read it
# Schemes a machine elsewhere can reach: SQLite (a file) and journals are one machine's.
SHARED_QUEUES = ("postgresql", "mysql")
SHARED_STORES = ("http", "https", "postgresql", "mysql", "mssql")


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str  # the scheduler's word: RUNNING, PENDING, COMPLETED, ... (UNKNOWN if unsure)


class Launcher:
    """The contract. Made with the prepared sweep, its options and the `launcher:` block
    (command-line values already merged in); `hooks` carry what one launcher alone uses (the
    local one's progress callback and warm processes). `blocking`: submit() returns once the
    workers are done (local), or once they are submitted (a scheduler)."""

    name: ClassVar[str] = ""
    blocking: ClassVar[bool] = False
    needs_shared: ClassVar[bool] = True  # its workers run elsewhere: shared queue and store

    def __init__(self, sw: Sweep, opts: SweepOptions, spec: LauncherSpec, **hooks: Any) -> None:
        self.sw, self.opts, self.spec, self.hooks = sw, opts, spec, hooks

    @classmethod
    def check(cls, spec: LauncherSpec) -> None:
        """Refuse (ValueError, one line) what cannot work here, before the sweep is planned."""

    def submit(self, n_workers: int) -> list[str]:
        """Start `n_workers` workers; the ids of what was started (jobs, processes)."""
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """What `ganbench status` needs besides the ids to find the jobs again (JSON)."""
        return {}

    @classmethod
    def states(cls, entry: dict[str, Any]) -> list[JobState]:
        """The state of each job of one recorded submission (`record_submission`)."""
        return [JobState(str(j), "UNKNOWN") for j in entry.get("jobs", [])]


LAUNCHERS: Registry[type[Launcher]] = Registry("launcher", Launcher, classes=True)


def _scheme(uri: str | None) -> str:
    return urlsplit(uri or "").scheme.split("+", 1)[0].lower()


def shared_problem(launcher: str, storage: str | None, tracking_uri: str | None) -> str | None:
    """One line naming what a launcher whose jobs run on other machines is missing: a queue
    they can all reach (an RDB server) and a record they can all write (a tracking server or
    a database server), or None when both are there."""
    missing = []
    if _scheme(storage) not in SHARED_QUEUES:
        missing.append("--storage postgresql://USER:PASSWORD@HOST:5432/DB (the shared queue; "
                       + (f"{storage} is one machine's" if storage else "the default is a local "
                          "journal file") + ")")
    if _scheme(tracking_uri) not in SHARED_STORES:
        missing.append("--tracking-uri http://HOST:5000 (an MLflow server, or a database "
                       "server; " + (f"{tracking_uri} is one machine's" if tracking_uri
                                     else "the default is a local SQLite file") + ")")
    if not missing:
        return None
    return (f"--launcher {launcher} runs workers on other machines, which need "
            + " and ".join(missing) + "; see docs/many-machines.md")


# ------------------------------------------------------------------ the record (JSON only)


def record_submission(folder: Path, launcher: str, job_ids: list[str],
                      details: dict[str, Any]) -> dict[str, Any]:
    """Append one submission to `folder/launch.json` (written atomically) and return it."""
    rec = read_record(folder) or {"submissions": []}
    entry = {"launcher": launcher, "at": dt.datetime.now().isoformat(timespec="seconds"),
             "jobs": [str(j) for j in job_ids], **details}
    rec["submissions"].append(entry)
    write_atomic(folder / RECORD, json.dumps(rec, indent=1))
    return entry


def read_record(folder: Path) -> dict[str, Any] | None:
    """The sweep's submissions, or None when it has none. Plain JSON of a fixed shape: a
    damaged or foreign file is a ValueError naming it."""
    path = folder / RECORD
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise ValueError("too large")
        rec = json.loads(path.read_text(encoding="utf-8"))
        subs = rec["submissions"]
        if not isinstance(subs, list) or not all(
                isinstance(s, dict) and isinstance(s.get("launcher"), str)
                and isinstance(s.get("jobs"), list) for s in subs):
            raise ValueError("not a list of submissions")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a ganbench launch record ({e}); move it aside") from None
    return rec
