"""Files from the data root (weights, the reference's features) read without running code.

torch-fidelity loads its weights and its feature cache with `torch.load(weights_only=False)`:
a pickle in a shared folder would run whatever its `__reduce__` says. ganbench reads such
files itself with `weights_only=True` (tensors and plain containers only) and hands
torch-fidelity only what it wrote from those tensors: the weights as an in-memory buffer,
the cache as copies in a private folder (mode 0700) that nobody else can write.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.safefile import MAX_DATA_BYTES, load_reason, regular_file


class UnsafeFileError(ValueError):
    """A file that is not plain tensors: refused, never unpickled."""


def load_tensors(path: Path, what: str) -> Any:
    """`torch.load(weights_only=True)`: tensors, numbers, strings and containers only."""
    regular_file(path, f"{what} file", MAX_DATA_BYTES)  # a FIFO would block torch.load
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle opcodes, zip, truncation: all refused
        raise UnsafeFileError(
            f"{path}: not a plain-tensor {what} file; refused to unpickle it ({load_reason(e)})"
        ) from None


def _numpy_globals() -> list:
    core = getattr(np, "_core", None) or np.core
    return [np.dtype, np.ndarray, core.multiarray._reconstruct,
            *(type(np.dtype(t)) for t in ("float32", "float64"))]


def load_fidelity_item(path: Path) -> Any:
    """A file torch-fidelity wrote in our private folder (numpy statistics or a tensor)."""
    with torch.serialization.safe_globals(_numpy_globals()):
        return torch.load(path, map_location="cpu", weights_only=True)


def to_shared(item: Any) -> Any:
    """torch-fidelity's item -> plain tensors (numpy statistics become tensors)."""
    if isinstance(item, dict):
        return {"__numpy__": {k: torch.from_numpy(np.ascontiguousarray(v))
                              for k, v in item.items()}}
    return item


def from_shared(item: Any) -> Any:
    if isinstance(item, dict) and set(item) == {"__numpy__"}:
        return {k: v.numpy() for k, v in item["__numpy__"].items()}
    return item


def save_atomic(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _remove_orphans(shared: Path, host: str) -> None:
    """Private folders this host's killed processes left (a SIGKILL skips the finaliser)."""
    for d in shared.glob(f".private-{host}-*-*"):
        try:
            pid = int(d.name[len(f".private-{host}-"):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge


class PrivateCache:
    """torch-fidelity's cache_root for one evaluator: a private copy of the shared cache.

    `pull(names)`: shared files (verified by a safe load) copied in; `push(names)`: what
    torch-fidelity computed, re-read safely and published to the shared folder atomically."""

    def __init__(self, shared: Path) -> None:
        self.shared = Path(shared)
        self.shared.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        _remove_orphans(self.shared, host)
        self.dir = Path(tempfile.mkdtemp(prefix=f".private-{host}-{os.getpid()}-",
                                         dir=self.shared))  # mode 0700
        weakref.finalize(self, shutil.rmtree, self.dir, True)

    def pull(self, names: list[str]) -> None:
        for name in names:
            src, dst = self.shared / name, self.dir / name
            if src.is_file() and not dst.is_file():
                item = load_tensors(src, "feature cache")
                torch.save(from_shared(item), dst)

    def push(self, names: list[str]) -> None:
        for name in names:
            src, dst = self.dir / name, self.shared / name
            if src.is_file() and not dst.is_file():
                save_atomic(to_shared(load_fidelity_item(src)), dst)
