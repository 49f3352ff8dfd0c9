"""A tiny generic name -> object registry (timm's `register_model` pattern).

Tricks, losses, models, datasets and metrics each own one `Registry`; the rest of the
code looks things up by the names users write in YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A user asked for a name that is not registered."""


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Entries registered (or replaced) inside the block are undone when it ends, also
        when it raises: tests register their own entries this way, so none outlives its test
        and the registry never holds a test-only name outside one."""
        saved = dict(self._items)
        try:
            yield self
        finally:
            # In place: callers (monkeypatch.setitem, say) may hold the dict itself.
            self._items.clear()
            self._items.update(saved)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        msg = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(str(name), self.names(), n=1, cutoff=0.5)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        return msg + f" (known: {', '.join(self.names())})"

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
