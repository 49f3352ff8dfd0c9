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


class RefusedPickleError(ValueError):
    """A pickle named a global outside the allowed set; nothing from it was run."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        get = _ALLOWED.get((module, name))
        if get is None:
            raise RefusedPickleError(f"{module}.{name}")
        return get()


def safe_load(path: Path | str) -> Any:
    """The object in a pickle file that holds only builtins and numpy arrays; RefusedPickleError
    (naming the file and the global) for anything else, ValueError for a damaged file."""
    path = Path(path)
    data = path.read_bytes()
    try:
        # latin1, as torchvision reads them: Python 2's str (keys, array bytes) stays readable.
        return _Restricted(io.BytesIO(data), encoding="latin1").load()
    except RefusedPickleError as e:
        raise RefusedPickleError(
            f"{path}: refused to unpickle: it names {e}, which a dataset file never holds "
            "(only dicts, lists, bytes and numpy arrays are read); replace the file with "
            "the original") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as e:
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); the file "
                         "is truncated or corrupt: delete it and fetch it again") from None
