"""Worker processes made ready before the sweep is, so their seconds of imports (torch,
MLflow, Optuna) overlap the controller's own start-up (loading the file, planning, store
and study set-up) instead of following it.

Two ways, by what the workers run on (`start_method`):
- forkserver (Linux, CPU workers): one server process imports everything once and forks
  each worker from it when the sweep is ready: the imports are paid once, not per worker,
  and the workers share those pages. A worker gets the controller's environment as it is
  when it is forked (the server's is the one it started with).
- spawn (GPUs, other platforms): each warm worker imports, then waits for its
  `WorkerContext` on a pipe; `None` (nothing to run, or the controller stopped first) makes
  it exit without touching the store. CUDA must not be initialised in a process that forks,
  and a server's imports are not known to keep off it.

Ctrl-C is ignored while a worker boots, as during a cold start; `worker_main` re-arms it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

    from ganbench.sweep.worker import WorkerContext

# What a worker imports before its first run: besides worker.py's own, MLflow's SQL store
# (opened in `work`) and torch._dynamo (the first optimiser imports it), about a second each,
# and pyplot (the run's samples picture; its backend is chosen, Agg, where it draws).
PRELOAD = ("ganbench.sweep.worker", "mlflow.store.tracking.sqlalchemy_store", "torch._dynamo",
           "matplotlib.pyplot")


def preload() -> None:
    """Import PRELOAD (a spawned warm worker, while the controller prepares the sweep)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def start_method(devices: list[str]) -> str:
    """forkserver where every worker runs on the CPU under Linux, else spawn."""
    if not sys.platform.startswith("linux") or "forkserver" not in mp.get_all_start_methods():
        return "spawn"
    gpu = any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists()
    return "forkserver" if all(d == "cpu" or (d == "auto" and not gpu) for d in devices) \
        else "spawn"


def process_context(devices: list[str]) -> BaseContext:
    """The multiprocessing context workers on `devices` start from (the fork server, if that
    is the method, started now: it imports while the caller goes on)."""
    method = start_method(devices)
    ctx = mp.get_context(method)
    if method == "forkserver":
        from multiprocessing import forkserver

        server = forkserver._forkserver
        before = getattr(server, "_forkserver_pid", None)
        ctx.set_forkserver_preload(list(PRELOAD))
        with sigint_ignored():  # the server's forks inherit it
            forkserver.ensure_running()
        pid = getattr(server, "_forkserver_pid", None)
        if pid is not None and pid != before:
            _STARTED.add(pid)
    return ctx


_STARTED: set[int] = set()  # fork servers this process started for its workers


def stop_fork_server() -> None:
    """End the fork server started for this sweep's workers (they are done). Left alone it
    would end only after this process, with a second of teardown while it still holds the
    command's output open; the next sweep in this process starts a fresh one, with the
    environment and code of then. (Not reaped here: multiprocessing does, when it next
    looks for a running server.)"""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid in _STARTED:
        _STARTED.discard(pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def start(ctx: BaseContext, contexts: list[WorkerContext]) -> list[BaseProcess]:
    """One started worker process per context."""
    from ganbench.sweep.worker import process_main

    env = dict(os.environ) if ctx.get_start_method() == "forkserver" else None
    procs = [ctx.Process(target=process_main, args=(c, env), daemon=False) for c in contexts]
    with sigint_ignored():  # inherited: no traceback per booting worker on Ctrl-C
        for proc in procs:
            proc.start()
    return procs


def boot(conn: Connection) -> None:
    """The warm worker's body: import what a worker needs (the warm-up), then wait for the
    context. (Imported here, so the controller can start warm workers before it has paid
    for those imports itself.)"""
    preload()
    from ganbench.sweep.worker import process_main

    try:
        ctx = conn.recv()
    except (EOFError, OSError):  # the controller went away before the sweep was ready
        return
    finally:
        conn.close()
    if ctx is not None:
        process_main(ctx)


class WarmWorkers:
    """`n` workers made ready now; `take(contexts)` starts (forks) or hands them over."""

    def __init__(self, n: int, devices: list[str] | None = None) -> None:
        self.n = n
        self.procs: list[BaseProcess] = []  # spawned, waiting for their contexts
        self._conns: list[Connection] = []
        self._ctx = process_context(devices or ["auto"]) if n else None
        if self._ctx is None or self._ctx.get_start_method() == "forkserver":
            return
        for _ in range(n):
            ours, theirs = self._ctx.Pipe()
            proc = self._ctx.Process(target=boot, args=(theirs,), daemon=False)
            with sigint_ignored():  # inherited: no traceback per booting worker on Ctrl-C
                proc.start()
            theirs.close()
            self.procs.append(proc)
            self._conns.append(ours)

    @property
    def ready(self) -> bool:
        """Whether workers are ready to be taken (not closed, not taken)."""
        return self.n > 0

    def take(self, contexts: list[WorkerContext]) -> list[BaseProcess]:
        """Start each worker with its context (as many as there are workers); give them up."""
        if len(contexts) != self.n:
            raise ValueError(f"{len(contexts)} contexts for {self.n} warm workers")
        self.n = 0
        if not self.procs:  # the fork server's
            return start(self._ctx, contexts)
        for conn, ctx in zip(self._conns, contexts, strict=True):
            conn.send(ctx)
            conn.close()
        procs, self.procs, self._conns = self.procs, [], []
        return procs

    def close(self) -> None:
        """Stop the workers not handed over (nothing to run, or an error first); a fork
        server stays, idle, until this process exits."""
        self.n = 0
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
        if self._ctx is not None and self._ctx.get_start_method() == "forkserver":
            stop_fork_server()  # whatever it forked has exited by now (run_workers waits)


@contextmanager
def warm_workers(n: int, devices: list[str] | None = None):
    pool = WarmWorkers(n, devices)
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
