"""One check's outcome, and the wrapper that turns a check's crash into a failed check."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ganbench.contract.contexts import contract_data

Status = Literal["pass", "fail", "skip", "warn"]


@dataclass(frozen=True)
class CheckResult:
    """`check`: what was checked ("trains beside ema"); `detail`: one line, naming the broken
    part when it failed (or why it was skipped)."""

    trick: str
    check: str
    status: Status
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Passed, skipped (the check does not apply) or warned (nothing that changes
        results: a plugin's trick without a citation)."""
        return self.status != "fail"


class Failed(Exception):
    """Raised inside a check: it failed, and the message is its detail."""


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check(title: str | Callable[..., str]):
    """Decorate `fn(name, ...) -> str | None` (a detail) into a check returning CheckResult:
    `Failed` and any other exception fail it, naming what raised; `Skip` skips it. `title`
    may be a function of the same arguments (a pair's check names the partner)."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(name: str, *args, **kwargs) -> CheckResult:
            label = title(name, *args, **kwargs) if callable(title) else title
            try:
                with contract_data():
                    detail = fn(name, *args, **kwargs)
            except Skip as e:
                return CheckResult(name, label, "skip", one_line(str(e)))
            except Warn as e:
                return CheckResult(name, label, "warn", one_line(str(e)))
            except Failed as e:
                return CheckResult(name, label, "fail", one_line(str(e)))
            except Exception as e:  # a check that crashes is a broken part, not a crash
                return CheckResult(name, label, "fail",
                                   one_line(f"raised {type(e).__name__}: {e}"))
            return CheckResult(name, label, "pass", one_line(detail or ""))

        wrapper.title = title if isinstance(title, str) else fn.__name__
        return wrapper

    return deco


class Warn(Exception):
    """Raised inside a check: a flaw that does not change results (the message says it)."""


class Skip(Exception):
    """Raised inside a check: it does not apply to this trick (the message says why)."""


def require(ok: object, detail: str) -> None:
    """Fail the running check with `detail` unless `ok`."""
    if not ok:
        raise Failed(detail)
