"""The one way in for every extension family (timm's `register_model` pattern, lm-eval's typed
registry): tricks, losses, models, datasets, metrics and sweep designs each own one `Registry`,
and the rest of the code looks entries up by the names users write in YAML.

`register` is the only way in. It checks the entry's type against the family's `base` (an
instance of the family's spec class, or a subclass for class families such as tricks), gives
the entry its name, refuses a name that is taken, and records where the entry came from
(`origin`: "built-in" unless a plugin loader says otherwise, "plugin 'NAME'" while the
plugin loader imports a plugin, or "module 'NAME'" for an entry a user's own module registers
outside any plugin: a script, a notebook's `__main__`), so a clash names both sides. An entry
with no code of its own (a metric spec) cannot say its module: its family registers ganbench's
own inside `origin(BUILT_IN)` and records a user's as "user code".
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

T = TypeVar("T")

BUILT_IN = "built-in"
USER = "user code"  # a code-less entry registered outside ganbench and outside any plugin
# None outside every `origin()` block, so that `origin(BUILT_IN)` can be told from no block.
_ORIGIN: ContextVar[str | None] = ContextVar("ganbench_registry_origin", default=None)
_ALL: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()  # for `registries()` (plugin loader)


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice a misspelt `name` most likely meant: one that differs by two neighbouring
    letters swapped ('fdi' -> 'fid', which difflib ranks below 'fd'), else difflib's closest
    at `cutoff` or above; None if none is close."""
    choices = [str(c) for c in choices]
    for c in choices:
        if len(c) == len(name) and c != name:
            diff = [i for i, (a, b) in enumerate(zip(c, name, strict=True)) if a != b]
            if len(diff) == 2 and diff[1] == diff[0] + 1 and c[diff[0]] == name[diff[1]] \
                    and c[diff[1]] == name[diff[0]]:
                return c
    close = difflib.get_close_matches(name, choices, n=1, cutoff=cutoff)
    return close[0] if close else None


class UnknownNameError(ValueError):
    """A user asked for a name that is not registered."""


class DuplicateNameError(ValueError):
    """A name is registered twice; the message names the kind, the name and both origins."""


class RegistrationError(TypeError, ValueError):
    """An entry of the wrong type (or without a usable name) was offered to a registry (a
    ValueError too: callers that report user errors catch those)."""


@contextmanager
def origin(label: str) -> Iterator[str]:
    """Entries registered inside the block record `label` as their origin (a plugin loader
    wraps each plugin's import in one: `origin("mypkg.tricks")`; ganbench wraps its own
    code-less entries in `origin(BUILT_IN)`)."""
    token = _ORIGIN.set(str(label))
    try:
        yield label
    finally:
        _ORIGIN.reset(token)


def current_origin() -> str | None:
    """The label of the innermost `origin()` block, or None outside every one."""
    return _ORIGIN.get()


def defined_in(obj: object) -> str | None:
    """The module that defines a registered class or function (a spec object: its loader or
    builder)."""
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj.__module__
    for attr in ("build", "load"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            return getattr(fn, "__module__", None)
    return None


def origin_for(obj: object) -> str:
    """The origin a registration of `obj` records now: the loader's label inside `origin()`,
    else built-in for ganbench's own entries and "module 'X'" for a user's."""
    label = _ORIGIN.get()
    if label is not None and label != BUILT_IN:
        return label
    mod = defined_in(obj)
    if mod and mod != "ganbench" and not mod.startswith("ganbench."):
        return f"module '{mod}'"
    return BUILT_IN


def registries() -> list[Registry[Any]]:
    """Every registry (the plugin loader undoes a failed plugin in each)."""
    return sorted(_ALL, key=lambda r: r.kind)


_MISSING = object()


def _patterns(p: str | Iterable[str] | None) -> list[str]:
    return [p] if isinstance(p, str) else list(p or [])


def _attr_matches(entry: Any, attr: str, want: Any) -> bool:
    got = getattr(entry, attr, _MISSING)
    if got is _MISSING:
        return False
    return bool(want(got)) if callable(want) else got == want


def describe_origin(label: str) -> str:
    """How an origin reads in a message: "built-in", or a bare module/file name as
    "plugin 'mypkg.tricks'" (a label with a space is taken as already worded)."""
    return label if label == BUILT_IN or " " in label else f"plugin {label!r}"


class Registry(Generic[T]):
    """name -> entry. `base`: the type every entry must have (instances of it, or with
    `classes=True` subclasses of it); None accepts anything and names nothing (generic use).
    `prepare(obj, name)`: family-specific touches after naming (a trick's `short`)."""

    def __init__(self, kind: str, base: type | None = None, *, classes: bool = False,
                 prepare: Callable[[Any, str], Any] | None = None) -> None:
        self.kind = kind
        self.base = base
        self.classes = classes
        self._prepare = prepare
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        _ALL.add(self)

    # ------------------------------------------------------------------ the way in

    def register(self, obj: Any = None, /, *, name: str | None = None) -> Any:
        """`REG.register(entry)`, `@REG.register`, `@REG.register("name")` or
        `REG.register("name")(entry)`. Returns what it was given (a decorated function or
        class stays itself), or for a spec instance the registered (named) spec."""
        if obj is None or isinstance(obj, str):
            wanted = obj if obj is not None else name
            return lambda entry: self._add(entry, wanted)
        return self._add(obj, name)

    def _add(self, obj: Any, name: str | None) -> Any:
        given = obj
        self._check_type(obj, name)
        name = self._name_for(obj, name)
        here = origin_for(given)
        if name in self._items:  # before touching the entry: a refused class stays as it was
            first = self._origins.get(name, BUILT_IN)
            if first == here:
                raise DuplicateNameError(f"{self.kind} {name!r} is registered twice by "
                                         f"{describe_origin(here)} (pick another name)")
            raise DuplicateNameError(
                f"{self.kind} {name!r} from {describe_origin(here)} is already registered by "
                f"{describe_origin(first)} (pick another name)")
        obj = self._with_name(obj, name)
        if self._prepare is not None:
            obj = self._prepare(obj, name)
        self._items[name] = obj
        self._origins[name] = here
        # A spec comes back named; a decorated class comes back itself.
        spec_given = self.base is not None and not self.classes and isinstance(given, self.base)
        return obj if spec_given else given

    def _check_type(self, obj: Any, name: str | None) -> None:
        if self.base is None:
            return
        ok = (isinstance(obj, type) and issubclass(obj, self.base)) if self.classes \
            else isinstance(obj, self.base)
        if not ok:
            want = f"a subclass of {self.base.__name__}" if self.classes \
                else f"a {self.base.__name__}"
            label = f" {name!r}" if name else ""
            raise RegistrationError(f"{self.kind}{label}: expected {want}, got {obj!r}")

    def _name_for(self, obj: Any, name: str | None) -> str:
        """The name to register under: the one given, else the entry's own (a class's own
        `name`, never an inherited one). A spec's own name must agree with a given one."""
        own = ""
        if self.base is not None:
            own = (obj.__dict__.get("name") if self.classes else getattr(obj, "name", "")) or ""
        if name and own and own != name and not self.classes:
            raise RegistrationError(f"{self.kind} spec named {own!r} registered as {name!r}; "
                                    "the names must agree")
        name = name or own
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"{self.kind} {obj!r}: no name given and the entry "
                                    "declares none")
        return name

    def _with_name(self, obj: Any, name: str) -> Any:
        """Classes take the registered name; a spec with an empty name is filled."""
        if self.base is None:
            return obj
        if self.classes:
            obj.name = name
        elif getattr(obj, "name", "") != name:
            obj = dataclasses.replace(obj, name=name) if dataclasses.is_dataclass(obj) else obj
            if getattr(obj, "name", "") != name:
                obj.name = name
        return obj

    # ------------------------------------------------------------------ tests

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """Entries registered (or replaced) inside the block are undone when it ends, also
        when it raises: tests register their own entries this way, so none outlives its test
        and the registry never holds a test-only name outside one. Origins too."""
        saved, saved_origins = dict(self._items), dict(self._origins)
        try:
            yield self
        finally:
            # In place: callers (monkeypatch.setitem, say) may hold the dicts themselves.
            self._items.clear()
            self._items.update(saved)
            self._origins.clear()
            self._origins.update(saved_origins)

    # ------------------------------------------------------------------ lookups

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.unknown_message(name)) from None

    def __getitem__(self, name: str) -> T:
        """`REG[name]`, as `get` (for callers that held a plain dict before)."""
        return self.get(name)

    def origin_of(self, name: str) -> str:
        """Where `name` was registered from: "built-in" or the label of `origin(...)`."""
        self.get(name)
        return self._origins.get(name, BUILT_IN)

    def remove_origin(self, label: str) -> list[str]:
        """Forget every entry of one origin (a plugin that failed half-way); returns them."""
        gone = [n for n, o in self._origins.items() if o == label]
        for n in gone:
            del self._items[n], self._origins[n]
        return gone

    def unknown_message(self, name: str) -> str:
        msg = f"unknown {self.kind} {name!r}"
        close = closest(str(name), self.names(), cutoff=0.5)
        if close:
            msg += f"; did you mean {close!r}?"
        msg += f" (known: {', '.join(self.names())})"
        if all(o == BUILT_IN for o in self._origins.values()):  # no plugin has added one
            msg += (f"; if it is your own {self.kind}, load the module that registers it: "
                    "`plugins: [its_file.py]` in the run or sweep file, --plugin FILE, or "
                    "GANBENCH_PLUGINS")
        return msg

    def names(self, filter: str | Iterable[str] | None = None, *,
              exclude: str | Iterable[str] | None = None, origin: str | None = None,
              **where: Any) -> list[str]:
        """The registered names, sorted; with conditions, those matching every one (timm's
        `list_models`): `filter`/`exclude`, shell-style patterns on the name ("sn*", or a
        list of them: any may match); `origin`, "built-in", "plugin" (anything a plugin or a
        user's module registered) or one origin label; and `attr=value` pairs on the
        entries (`kind="images"`, `conditional=True`; a callable value is a test of the
        attribute). An attribute the entry lacks matches nothing."""
        if filter is None and exclude is None and origin is None and not where:
            return sorted(self._items)
        keep, drop = _patterns(filter), _patterns(exclude)
        out = []
        for name, entry in sorted(self._items.items()):
            if keep and not any(fnmatch.fnmatchcase(name, p) for p in keep):
                continue
            if any(fnmatch.fnmatchcase(name, p) for p in drop):
                continue
            if origin is not None and not self._origin_matches(name, origin):
                continue
            if all(_attr_matches(entry, k, v) for k, v in where.items()):
                out.append(name)
        return out

    def _origin_matches(self, name: str, wanted: str) -> bool:
        got = self._origins.get(name, BUILT_IN)
        if wanted == "plugin":
            return got != BUILT_IN
        return got == wanted or describe_origin(got) == wanted

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def values(self) -> list[T]:
        return [v for _, v in self.items()]

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._items
        except TypeError:  # an unhashable name is not registered
            return False

    def __len__(self) -> int:
        return len(self._items)
