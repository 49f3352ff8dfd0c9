"""Worker processes end when the process that started them is gone.

A SIGKILLed controller (or `ganbench worker`) left its workers and fork server running as
orphans that kept pulling runs: a rerun meanwhile trained their in-flight run a second time
and exited 0 with the report stale. The controller writes its pid into the environment its
workers start with (CONTROLLER_ENV); each worker process watches it from a daemon thread and
ends at once (as a SIGKILL with its controller would have ended it: the journal and the
store recover from that, tested in tests/integration/test_faults.py) when it is gone.
"""

from __future__ import annotations

import os
import threading
import time

CONTROLLER_ENV = "GANBENCH_CONTROLLER_PID"
POLL_S = 1.0
EXIT_CODE = 75  # EX_TEMPFAIL: the run is left for the next controller to re-queue
_WATCHING: list[int] = []  # the controller this process watches already, if any


def mark_controller() -> None:
    """This process starts workers: they watch it (their environment is copied from ours)."""
    os.environ[CONTROLLER_ENV] = str(os.getpid())


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's: not ours, so not our controller
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[-1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):  # no /proc (not Linux): the signal test alone
        return True


def watch_controller(env: dict[str, str] | None = None) -> threading.Thread | None:
    """In a worker process: a daemon thread that ends the process once its controller is
    gone. None when no controller is recorded (a worker run in-process, by a library)."""
    try:
        pid = int((env if env is not None else os.environ).get(CONTROLLER_ENV, "0"))
    except ValueError:
        return None
    if pid <= 1 or pid == os.getpid() or _WATCHING:
        return None
    _WATCHING.append(pid)

    def loop() -> None:
        while alive(pid):
            time.sleep(POLL_S)
        os._exit(EXIT_CODE)

    t = threading.Thread(target=loop, name="ganbench-controller-watch", daemon=True)
    t.start()
    return t
