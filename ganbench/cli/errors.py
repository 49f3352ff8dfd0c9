"""User mistakes become one red message and exit code 2, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ganbench.config import ConfigError
from ganbench.data import DataUnavailableError

F = TypeVar("F", bound=Callable)
err_console = Console(stderr=True)


def user_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ConfigError, DataUnavailableError, ValueError) as e:
            # soft_wrap: one line (the terminal wraps it), so it can be grepped and copied
            err_console.print("[bold red]error:[/] " + escape(str(e)), highlight=False,
                              soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def use_weights(path) -> None:
    """--weights PATH: the user's Inception weights for FID/KID/IS, for this process and the
    workers it starts (they inherit the environment)."""
    if path is None:
        return
    import os

    from ganbench.metrics.inception_weights import ENV_WEIGHTS

    if not path.is_file():
        raise ValueError(f"--weights {path}: no such file")
    os.environ[ENV_WEIGHTS] = str(path.resolve())
