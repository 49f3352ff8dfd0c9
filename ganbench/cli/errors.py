"""User mistakes become one red message and exit code 2, never a traceback."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

F = TypeVar("F", bound=Callable)
err_console = Console(stderr=True)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """ValueError (ConfigError is one) and DataUnavailableError, without importing the data
    package (torch) for `--help`: an error of that class was raised only if it is loaded."""
    data = sys.modules.get("ganbench.data.base")
    return (ValueError, data.DataUnavailableError) if data else (ValueError,)


def _oom_types() -> tuple[type[BaseException], ...]:
    """torch's out-of-memory error (CUDA, MPS), where torch is loaded."""
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch else None
    return (oom,) if oom else ()


def _is_oom(e: BaseException) -> bool:
    """torch's CPU allocator raises a plain RuntimeError when an allocation fails."""
    text = str(e).lower()
    return isinstance(e, tuple(_oom_types())) or "can't allocate memory" in text or (
        "out of memory" in text)


def _database_damage(e: BaseException) -> bool:
    """SQLite's words for a damaged file, met mid-query (a store too large for the check
    before opening it, or damaged while a command runs): one line, not 100+ of traceback."""
    text = str(e).lower()
    return ("database disk image is malformed" in text or "file is not a database" in text
            or "database corruption" in text)


def user_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _user_error_types() as e:  # evaluated when an exception is matched
            # soft_wrap: one line (the terminal wraps it), so it can be grepped and copied
            err_console.print("[bold red]error:[/] " + escape(str(e)), highlight=False,
                              soft_wrap=True)
            raise typer.Exit(2) from None
        except (MemoryError, RuntimeError, *_oom_types()) as e:  # a batch beyond this machine
            if isinstance(e, RuntimeError) and not _is_oom(e):
                raise
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            err_console.print("[bold red]error:[/] " + escape(
                f"out of memory ({first}); lower batch_size, fid_batch_size or the model's "
                "width, or use a machine with more memory"), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except Exception as e:  # noqa: BLE001 - only a damaged database is answered here
            if not _database_damage(e):
                raise
            first = str(e).strip().splitlines()[0][:200]
            err_console.print("[bold red]error:[/] " + escape(
                f"a database this command reads is damaged ({first}); the MLflow store "
                "(mlflow.db) or the study's storage: restore it from a backup, or move it "
                "aside and rerun"), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:  # a command without its own Ctrl-C handling
            err_console.print("[yellow]interrupted[/]", highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def second_ctrl_c_ignored() -> Iterator[None]:
    """The first Ctrl-C raises KeyboardInterrupt; any further one is ignored while the
    command records the interruption (a second used to leave the sweep's run RUNNING), and
    after it too: an interrupted command is on its way out, and a late second press must not
    kill it before it prints its message and exits 130."""
    fired = []

    def once(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fired.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, once)
    except ValueError:  # not the main thread (a library or test caller): leave it alone
        yield
        return
    try:
        yield
    finally:
        if not fired:
            signal.signal(signal.SIGINT, previous)


def use_weights(path) -> None:
    """--weights PATH: the user's Inception weights for FID/KID/IS, for this process and the
    workers it starts (they inherit the environment)."""
    if path is None:
        return
    import os

    from ganbench.metrics.inception_weights import ENV_WEIGHTS

    if not path.exists():
        raise ValueError(f"--weights {path}: no such file")
    from ganbench.safefile import MAX_DATA_BYTES, regular_file

    regular_file(path, "weights file", MAX_DATA_BYTES)  # a FIFO would block torch.load
    from ganbench.metrics.safe_cache import load_tensors

    load_tensors(path, "weights")  # a pickle that is more than tensors: refused, never run
    os.environ[ENV_WEIGHTS] = str(path.resolve())
