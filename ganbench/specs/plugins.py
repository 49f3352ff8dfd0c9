"""Plugins: a user's own modules that register tricks, models, datasets, losses or metrics.

Three ways in, one loader: `plugins: [mypkg.tricks, ./local_file.py]` in a run or sweep file
(paths relative to that file), `GANBENCH_PLUGINS=mod1,mod2` in the environment (paths
relative to the working folder), and the entry-point group `ganbench.plugins` of installed
packages. An entry is a module name, `module:function` (the function is called after the
import: it registers) or a `.py` file. Each is imported inside `registry.origin("plugin
'NAME'")`, so every name it registers remembers where it came from.

A sweep records what its controller loaded (name, content hash) on the study; every worker
loads that same list before it claims a run and refuses to start, with one line naming the
plugin, when one cannot be imported or its code differs (another hash): runs of one sweep
never mix two versions of a plugin's code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The built-in families first: a plugin that reuses a built-in name then fails, not the
# built-in module imported after it.
import ganbench.data  # noqa: F401
import ganbench.losses  # noqa: F401
import ganbench.metrics  # noqa: F401
import ganbench.models  # noqa: F401
import ganbench.specs.designs  # noqa: F401
import ganbench.tricks  # noqa: F401
from ganbench.registry import DuplicateNameError, origin, registries
from ganbench.safefile import NotAFileError, regular_file

ENV = "GANBENCH_PLUGINS"
GROUP = "ganbench.plugins"
TAG = "ganbench.plugins"  # MLflow tag on a sweep's parent run and on every run


class PluginError(ValueError):
    """A plugin that cannot be loaded; the message is one line naming it."""


@dataclass(frozen=True)
class Plugin:
    name: str  # a module name, `module:function`, or a file's absolute path
    module: str  # the imported module's name
    hash: str  # sha256 (first 16 hex digits) of its source: the file, or its package's files
    path: str | None = None  # a file plugin's absolute path

    @property
    def label(self) -> str:
        return label(self.name)

    def record(self) -> dict[str, Any]:
        return asdict(self)


_LOADED: dict[str, Plugin] = {}  # by name: a plugin is imported once per process
_STARTUP: list[Plugin] | None = None


def label(name: str) -> str:
    """The origin its registrations carry (`ganbench plugins` shows it)."""
    return f"plugin '{name}'"


def loaded() -> list[Plugin]:
    """Every plugin this process has loaded, in load order."""
    return list(_LOADED.values())


def tag(plugins: list[Plugin] | list[dict[str, Any]]) -> str:
    """`name@hash, ...`: the MLflow tag value ('' for none)."""
    recs = [p.record() if isinstance(p, Plugin) else p for p in plugins]
    return ", ".join(f"{r['name']}@{r['hash']}" for r in recs)


def load(entries: list[str], base: Path | None = None,
         where: Callable[[int], str] | None = None) -> list[Plugin]:
    """Import each entry (once per process); `base`: the folder file paths are relative to;
    `where(i)`: the file:line prefix of entry i's messages."""
    out = []
    for i, entry in enumerate(entries):
        try:
            out.append(_load_one(str(entry), base))
        except PluginError as e:
            raise PluginError(f"{where(i)}: {e}" if where else str(e)) from None
    return out


def load_environment() -> list[Plugin]:
    entries = [e.strip() for e in os.environ.get(ENV, "").split(",") if e.strip()]
    return load(entries, Path.cwd(), lambda i: f"{ENV}={os.environ[ENV]}")


def load_entry_points() -> list[Plugin]:
    """Every installed package's `ganbench.plugins` entry points."""
    out = []
    for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        try:
            out.append(_load_one(ep.value, None))
        except PluginError as e:
            raise PluginError(f"entry point {ep.name!r} ({ep.value}) of group {GROUP}: {e}"
                              ) from None
    return out


def load_startup() -> list[Plugin]:
    """The plugins every command loads: entry points, then GANBENCH_PLUGINS (once)."""
    global _STARTUP
    if _STARTUP is None:
        _STARTUP = load_entry_points() + load_environment()
    return list(_STARTUP)


def load_recorded(records: list[dict[str, Any]]) -> list[Plugin]:
    """A worker's start: the controller's plugins, the same code, or a PluginError."""
    out = []
    for r in records:
        name = str(r.get("name", "?"))
        try:
            p = _load_one(r.get("path") or name, None)
        except PluginError as e:
            raise PluginError(f"this worker cannot load the sweep's {e}; make it importable "
                              "here (install it, or set PYTHONPATH) and start again") from None
        if r.get("hash") and p.hash != r["hash"]:
            raise PluginError(
                f"{label(name)} here (hash {p.hash}) is not the code the sweep was started "
                f"with (hash {r['hash']}); install that version here, or rerun the sweep "
                "command to record this one (its later runs then use it)")
        out.append(p)
    return out


# ------------------------------------------------------------------ importing one


def _load_one(entry: str, base: Path | None) -> Plugin:
    path = _as_path(entry, base)
    name = str(path) if path else entry
    if name in _LOADED:
        return _LOADED[name]
    lab = label(entry if path is None else name)
    with origin(lab):
        try:
            module = _import_file(path, lab) if path else _import_module(entry, lab)
        except PluginError:
            _forget(lab)
            raise
        except DuplicateNameError as e:
            _forget(lab)
            raise PluginError(f"{lab}: {e}") from None
        except (Exception, SystemExit) as e:  # noqa: BLE001 - any failure is the plugin's
            _forget(lab)
            raise PluginError(f"{lab} failed on import: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}{_at(e)}") from None
    p = Plugin(name, module.__name__, source_hash(module), str(path) if path else None)
    _LOADED[name] = p
    return p


def _as_path(entry: str, base: Path | None) -> Path | None:
    if not entry.endswith(".py") and "/" not in entry and os.sep not in entry:
        return None
    p = Path(entry).expanduser()
    return (p if p.is_absolute() else (base or Path.cwd()) / p).resolve()


def _import_file(path: Path, lab: str):
    if not path.exists():
        raise PluginError(f"{lab}: no such file")
    try:  # a FIFO or a device is refused before import opens it (safefile.py)
        regular_file(path, "Python file", 16 << 20)
    except NotAFileError as e:
        raise PluginError(f"{lab}: {e}") from None
    mod_name = path.stem
    other = sys.modules.get(mod_name)
    if other is not None:
        there = getattr(other, "__file__", None)
        if there and Path(there).resolve() == path:
            return other
        raise PluginError(f"{lab}: a module named {mod_name!r} is imported already (from "
                          f"{there or 'elsewhere'}); rename the file")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{lab}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look a class's module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def _import_module(entry: str, lab: str):
    mod_name, _, func = entry.partition(":")
    if not mod_name.replace(".", "").replace("_", "").isalnum():
        raise PluginError(f"{lab}: not a module name or a .py file")
    try:
        module = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and (mod_name == e.name or mod_name.startswith(e.name + ".")):
            raise PluginError(f"{lab}: no module named {mod_name!r} (is it installed, or on "
                              "PYTHONPATH?)") from None
        raise
    if func:
        fn = getattr(module, func, None)
        if not callable(fn):
            raise PluginError(f"{lab}: module {mod_name!r} has no function {func!r}")
        fn()
    return module


def _forget(lab: str) -> None:
    """Undo what a plugin registered before it failed."""
    for reg in registries():
        reg.remove_origin(lab)


def _at(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    return f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""


def source_hash(module) -> str:
    """The plugin's code identity: a plain module's file, or every .py file of the top-level
    package it belongs to (a plugin's helpers change what it computes too)."""
    top = sys.modules.get(module.__name__.split(".")[0], module)
    files: list[tuple[str, Path]] = []
    if getattr(top, "__path__", None) and getattr(top, "__file__", None):
        root = Path(top.__file__).parent
        files = [(str(p.relative_to(root)), p) for p in sorted(root.rglob("*.py"))]
    elif getattr(module, "__file__", None):
        files = [(Path(module.__file__).name, Path(module.__file__))]
    h = hashlib.sha256()
    for rel, p in files:
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def adopt(mod_name: str) -> Plugin:
    """An already imported module that registered names outside any plugin (a script's own
    module, used by `ganbench.sweep()`): recorded like a plugin, so workers import it."""
    if mod_name in _LOADED:
        return _LOADED[mod_name]
    p = Plugin(mod_name, mod_name, source_hash(sys.modules[mod_name]))
    _LOADED[mod_name] = p
    return p


__all__ = ["ENV", "GROUP", "TAG", "Plugin", "PluginError", "adopt", "label", "load",
           "load_entry_points", "load_environment", "load_recorded", "load_startup", "loaded",
           "source_hash", "tag"]
