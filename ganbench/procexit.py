"""Ending a process without CPython's interpreter teardown.

With torch, MLflow and the report's libraries loaded, tearing the interpreter down (freeing
every module and object) takes about a second per process after the work is done; a sweep
pays it in the controller and in each worker, in the serial tail before the prompt returns
(results/perf/). `exit_now` does what a normal exit must (wait for non-daemon threads, run
the atexit handlers: temporary folders, multiprocessing's children, logging; flush the
standard streams) and then leaves with `os._exit`, skipping only the teardown.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn


def exit_code(e: SystemExit) -> int:
    """The status a SystemExit leaves with, as `sys.exit` would (its message printed)."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def exit_now(code: int) -> NoReturn:
    """A normal exit's duties, then `os._exit(code)`."""
    # What the interpreter's own exit calls first (multiprocessing's children call it too):
    # the thread-pool shutdown hooks, then a join of every non-daemon thread.
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code)


def run_then_exit(fn: Callable[[], object]) -> NoReturn:
    """Run `fn` (a process's whole work) and end the process with its status, fast. An
    exception other than SystemExit propagates unchanged (Python prints it and exits 1)."""
    try:
        fn()
    except SystemExit as e:
        exit_now(exit_code(e))
    exit_now(0)
