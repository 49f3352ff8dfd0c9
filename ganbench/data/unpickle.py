"""A restricted unpickler for the dataset pickles users keep on disk (CIFAR's python batches).

A pickle names the callables it calls when it is read, so `pickle.load` of a file can run any
code (a `__reduce__` that returns `os.system`). CIFAR's batches hold only dicts, lists, ints,
bytes/str and numpy arrays; this unpickler resolves exactly the globals those need (numpy's
array reconstructors, ndarray, dtype, and `_codecs.encode`, which Python 3's protocol-2 pickles
use for bytes) and refuses every other one before it is imported or called.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.safefile import read_capped


def _reconstruct():
    try:  # numpy >= 2 moved it; pickles written by numpy 1 still name numpy.core
        from numpy._core.multiarray import _reconstruct as r
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import _reconstruct as r
    return r


def _scalar():
    try:
        from numpy._core.multiarray import scalar as s
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import scalar as s
    return s


def _frombuffer():  # protocol-5 pickles of arrays (out-of-band buffers)
    try:
        from numpy._core.numeric import _frombuffer as f
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.numeric import _frombuffer as f
    return f


# (module, name) as written in the pickle -> a function returning the object it may name.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: codecs.encode,
}


def _claimed(shape: Any, dtype: Any, limit: int, what: str) -> None:
    """Refuse an array whose header claims more bytes than the file could hold (a 100 TB
    shape reached numpy's allocator), or objects (a dataset holds numbers, not Python objects
    an array of them would allocate)."""
    dt = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if dt.hasobject:
        raise RefusedPickleError(f"{what} of Python objects (dtype {dt})")
    dims = shape if isinstance(shape, (tuple, list)) else (shape,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in dims):
        raise RefusedPickleError(f"{what} with shape {dims!r}")
    n = dt.itemsize
    for d in dims:
        n *= d
        if n > limit:
            raise ClaimedSizeError(f"its {what} claims shape {tuple(dims)} of {dt} (more "
                                   f"than the file's {limit:,} bytes could hold)")


def _guards(limit: int) -> dict[str, Any]:
    """The allowed numpy callables wrapped so that nothing is allocated beyond what a file of
    `limit` bytes can hold."""
    rec, frombuf = _reconstruct(), _frombuffer()

    def reconstruct(cls, shape, dtype, *rest):
        cls = np.ndarray if cls is _NDArray else cls
        if cls is not np.ndarray:
            raise RefusedPickleError(f"an array of class {getattr(cls, '__name__', cls)!r}")
        _claimed(shape, dtype, limit, "array")
        return rec(cls, shape, dtype, *rest)

    def frombuffer(buf, dtype, shape, order, *rest):
        _claimed(shape, dtype, limit, "array")
        return frombuf(buf, dtype, shape, order, *rest)

    def dtype(spec, *rest):
        dt = np.dtype(spec, *rest)
        _claimed((), dt, limit, "dtype")
        return dt

    return {"_reconstruct": lambda: reconstruct, "_frombuffer": lambda: frombuffer,
            "dtype": lambda: dtype, "ndarray": lambda: _NDArray}


class _NDArray:
    """numpy.ndarray as a pickle names it: an argument of _reconstruct, never called (a call
    `ndarray(shape)` would allocate whatever shape the file claims)."""

    def __new__(cls, *args, **kwargs):
        raise RefusedPickleError("a call of numpy.ndarray")


class ClaimedSizeError(ValueError):
    """An array in a pickle claims more memory than its file could hold."""


class RefusedPickleError(ValueError):
    """A pickle named a global outside the allowed set; nothing from it was run."""


class _Restricted(pickle.Unpickler):
    def __init__(self, file, limit: int, **kw) -> None:
        super().__init__(file, **kw)
        self._guards = _guards(limit)

    def find_class(self, module: str, name: str) -> Any:
        get = _ALLOWED.get((module, name))
        if get is None:
            raise RefusedPickleError(f"{module}.{name}")
        return self._guards.get(name, get)()


def safe_load(path: Path | str) -> Any:
    """The object in a pickle file that holds only builtins and numpy arrays; RefusedPickleError
    (naming the file and the global) for anything else, ValueError for a damaged file."""
    path = Path(path)
    data = read_capped(path, "dataset file")  # a FIFO, a device or a huge file: refused
    try:
        # latin1, as torchvision reads them: Python 2's str (keys, array bytes) stays readable.
        # An array may claim at most the file's size (plus a page for a tiny header).
        return _Restricted(io.BytesIO(data), len(data) + 4096, encoding="latin1").load()
    except ClaimedSizeError as e:
        raise ValueError(f"{path}: refused: {e}; the file is damaged or not a dataset "
                         "batch: replace it with the original") from None
    except RefusedPickleError as e:
        raise RefusedPickleError(
            f"{path}: refused to unpickle: it names {e}, which a dataset file never holds "
            "(only dicts, lists, bytes and numpy arrays are read); replace the file with "
            "the original") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); the file "
                         "is truncated or corrupt: delete it and fetch it again") from None
