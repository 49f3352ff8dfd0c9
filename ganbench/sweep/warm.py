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

from ganbench.sweep.orphans import mark_controller

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

        before = _server_pid()
        ctx.set_forkserver_preload(list(PRELOAD))
        with sigint_ignored():  # the server's forks inherit it
            forkserver.ensure_running()
        if _server_pid() != before:  # ours to stop (not one someone else started)
            _OURS[:] = [_server_pid()]
    return ctx


_OURS: list[int] = []  # the fork server this process started for its workers, if any


def _server_pid() -> int | None:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def stop_fork_server() -> None:
    """End the fork server started for this sweep's workers (they are done). Left alone it
    would end only after this process, with a second of teardown while it still holds the
    command's output open; the next sweep in this process starts a fresh one, with the
    environment and code of then. (Not reaped here: multiprocessing does, when it next
    looks for a running server.)"""
    pid = _server_pid()
    if pid is not None and pid in _OURS:
        _OURS.clear()
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def processes(ctx: BaseContext, contexts: list[WorkerContext]) -> list[BaseProcess]:
    """One worker process per context, not started yet (`start_all`)."""
    from ganbench.sweep.worker import process_main

    mark_controller()  # the workers watch this process (sweep/orphans.py)
    env = dict(os.environ) if ctx.get_start_method() == "forkserver" else None
    return [ctx.Process(target=process_main, args=(c, env), daemon=False) for c in contexts]


def start_all(procs: list[BaseProcess]) -> None:
    """Start those not started yet. Spawned ones with Ctrl-C ignored, which they inherit (no
    traceback per booting worker). A fork server's inherit its own (ignored) disposition,
    and asking it to fork waits until its imports are done: a Ctrl-C meanwhile is held and
    raised once every worker has a pid, never in the middle of a request, which would leave
    a worker forked that no one knows of."""
    todo = [p for p in procs if p.pid is None]
    if not todo:
        return
    forked = getattr(todo[0], "_start_method", None) == "forkserver"  # its context's name
    with sigint_deferred() if forked else sigint_ignored():
        for proc in todo:
            proc.start()


def start(ctx: BaseContext, contexts: list[WorkerContext]) -> list[BaseProcess]:
    """One started worker process per context."""
    procs = processes(ctx, contexts)
    start_all(procs)
    return procs


def boot(conn: Connection) -> None:
    """The warm worker's body: import what a worker needs (the warm-up), then wait for the
    context. (Imported here, so the controller can start warm workers before it has paid
    for those imports itself.)"""
    from ganbench.sweep.orphans import watch_controller

    watch_controller()  # also while it imports and waits for its context
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
        mark_controller()  # inherited by the spawned workers, which watch this process
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
        """Each worker with its context (as many as there are workers), given up: spawned
        ones running, a fork server's still to be started (`start_all`)."""
        if len(contexts) != self.n:
            raise ValueError(f"{len(contexts)} contexts for {self.n} warm workers")
        self.n = 0
        if not self.procs:  # the fork server's: started by the caller (`start_all`)
            return processes(self._ctx, contexts)
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


@contextmanager
def sigint_deferred():
    """Ctrl-C held while the body runs and delivered (to the handler of before) after it."""
    got: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if got:
        signal.raise_signal(signal.SIGINT)
