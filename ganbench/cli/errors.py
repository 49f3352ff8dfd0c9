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
            err_console.print("[bold red]error:[/] " + escape(str(e)), highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
