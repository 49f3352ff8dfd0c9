"""A tiny generic name -> object registry (timm's `register_model` pattern).

Tricks, losses, models, datasets and metrics each own one `Registry`; the rest of the
code looks things up by the names users write in YAML.

Every entry remembers where it came from (its *origin*): "built-in", "plugin 'NAME'" while
the plugin loader imports a plugin (`origin(label)`), or "module 'NAME'" for an entry a
user's own module registers outside any plugin (a script, a notebook: `__main__`).
"""

from __future__ import annotations

import difflib
import inspect
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

T = TypeVar("T")

BUILT_IN = "built-in"
_ORIGIN: ContextVar[str] = ContextVar("ganbench_registry_origin", default=BUILT_IN)
_ALL: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()  # for `registries()` (plugin loader)


class UnknownNameError(ValueError):
    """A user asked for a name that is not registered."""


class DuplicateNameError(ValueError):
    """A name registered twice (two plugins, or a plugin and a built-in)."""


@contextmanager
def origin(label: str) -> Iterator[None]:
    """Entries registered inside the block record `label` as their origin."""
    token = _ORIGIN.set(label)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def defined_in(obj: object) -> str | None:
    """The module that defines a registered class or function (a spec object: its `build`)."""
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj.__module__
    build = getattr(obj, "build", None)
    return getattr(build, "__module__", None) if callable(build) else None


def current_origin(obj: object) -> str:
    """The origin a registration of `obj` made now records."""
    label = _ORIGIN.get()
    if label != BUILT_IN:
        return label
    mod = defined_in(obj)
    if mod and mod != "ganbench" and not mod.startswith("ganbench."):
        return f"module '{mod}'"  # a user's own registration, not ganbench's
    return label


def registries() -> list[Registry[Any]]:
    return sorted(_ALL, key=lambda r: r.kind)


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        _ALL.add(self)

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            label = current_origin(obj)
            if name in self._items:
                raise DuplicateNameError(
                    f"{self.kind} {name!r} is registered twice: by "
                    f"{self._origins.get(name, BUILT_IN)} and by {label}; rename one of them")
            self._items[name] = obj
            self._origins[name] = label
            return obj

        return deco

    def origin_of(self, name: str) -> str:
        self.get(name)  # an unknown name: the usual error
        return self._origins.get(name, BUILT_IN)

    def remove_origin(self, label: str) -> list[str]:
        """Forget every entry of one origin (a plugin that failed half-way); returns them."""
        gone = [n for n, o in self._origins.items() if o == label]
        for n in gone:
            del self._items[n], self._origins[n]
        return gone

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Entries registered (or replaced) inside the block are undone when it ends, also
        when it raises: tests register their own entries this way, so none outlives its test
        and the registry never holds a test-only name outside one."""
        saved, origins = dict(self._items), dict(self._origins)
        try:
            yield self
        finally:
            # In place: callers (monkeypatch.setitem, say) may hold the dict itself.
            self._items.clear()
            self._items.update(saved)
            self._origins.clear()
            self._origins.update(origins)

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
