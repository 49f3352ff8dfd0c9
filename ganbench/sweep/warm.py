"""Worker processes started before the sweep is ready, so their seconds of imports (torch,
MLflow, Optuna) overlap the controller's own start-up (planning, store and study set-up)
instead of following it.

A warm worker imports everything a worker needs, then waits for its `WorkerContext` on a
pipe; `None` (nothing to run, or the controller stopped first) makes it exit without
touching the store. Ctrl-C is ignored while it waits, as during a cold start; `worker_main`
re-arms it.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from ganbench.sweep.worker import WorkerContext


def boot(conn: Connection) -> None:
    """The warm worker's body: import what a worker needs (the warm-up), then wait for the
    context. (Imported here, so the controller can start warm workers before it has paid
    for those imports itself.)"""
    from ganbench.sweep.worker import preload, process_main

    preload()

    try:
        ctx = conn.recv()
    except (EOFError, OSError):  # the controller went away before the sweep was ready
        return
    finally:
        conn.close()
    if ctx is not None:
        process_main(ctx)


class WarmWorkers:
    """`n` spawned workers waiting for their contexts; `take(contexts)` hands them over."""

    def __init__(self, n: int) -> None:
        spawn = mp.get_context("spawn")
        self.procs: list[BaseProcess] = []
        self._conns: list[Connection] = []
        for _ in range(n):
            ours, theirs = spawn.Pipe()
            proc = spawn.Process(target=boot, args=(theirs,), daemon=False)
            with sigint_ignored():  # inherited: no traceback per booting worker on Ctrl-C
                proc.start()
            theirs.close()
            self.procs.append(proc)
            self._conns.append(ours)

    def take(self, contexts: list[WorkerContext]) -> list[BaseProcess]:
        """Send each worker its context (as many as there are workers) and give them up."""
        if len(contexts) != len(self.procs):
            raise ValueError(f"{len(contexts)} contexts for {len(self.procs)} warm workers")
        for conn, ctx in zip(self._conns, contexts, strict=True):
            conn.send(ctx)
            conn.close()
        procs, self.procs, self._conns = self.procs, [], []
        return procs

    def close(self) -> None:
        """Stop the workers not handed over (nothing to run, or an error first)."""
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
        for proc in self.procs:
            proc.join(timeout=0.2)
            if proc.is_alive():  # still importing: no need to wait for it
                proc.terminate()
                proc.join(timeout=5)
        self.procs, self._conns = [], []


@contextmanager
def warm_workers(n: int):
    pool = WarmWorkers(n)
    try:
        yield pool
    finally:
        pool.close()


@contextmanager
def sigint_ignored():
    """SIGINT ignored (inherited by a spawned child) where this thread may change it."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
