"""Reader (and a tiny writer, for tests) for the IDX files MNIST-style datasets ship as.

Format: two zero bytes, a dtype code, the number of dims, then each dim as a big-endian
uint32, then the data, big-endian. Files may be gzip-compressed (name ends in .gz).
"""

from __future__ import annotations

import gzip  # noqa: F401  (write_idx)
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ganbench.safefile import MAX_DATA_BYTES, read_capped

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


class IdxError(ValueError):
    """An IDX file is malformed (bad magic, truncated, wrong size)."""


def _read_bytes(path: Path) -> bytes:
    """The file's bytes (a regular file, read with the size cap), gunzipped with the same cap
    (a small .gz can claim gigabytes)."""
    raw = read_capped(path, "dataset file")
    if not path.name.endswith(".gz"):
        return raw
    try:
        z = zlib.decompressobj(wbits=31)
        out = z.decompress(raw, MAX_DATA_BYTES)
    except zlib.error as e:  # truncated/corrupt gzip from a broken download
        raise IdxError(f"cannot read IDX file {path}: {e}; delete it and fetch it again") from e
    if z.unconsumed_tail:
        raise IdxError(f"{path}: unpacks to more than {MAX_DATA_BYTES:,} bytes (the limit, "
                       "GANBENCH_MAX_DATA_BYTES); not an MNIST-style file")
    if not z.eof:
        raise IdxError(f"cannot read IDX file {path}: the gzip stream is truncated; delete it "
                       "and fetch it again")
    return out


def read_idx(path: str | Path) -> torch.Tensor:
    """The array stored in an IDX file (plain or .gz) as a CPU tensor of its native dtype."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise IdxError(
            f"{path} is not an IDX file: magic number {raw[:4].hex() or '<empty>'} "
            f"(expected 0000 followed by a dtype code in {sorted(_DTYPES)} and ndim)"
        )
    dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IdxError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but "
            f"{len(raw) - header} bytes follow; the file is truncated or corrupt"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(arr.astype(dtype.newbyteorder("="), copy=True))


def write_idx(path: str | Path, array: np.ndarray | torch.Tensor) -> None:
    """Write an IDX file (gzip if the name ends in .gz); used by tests and fixtures."""
    path = Path(path)
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise IdxError(f"IDX cannot store dtype {arr.dtype}")
    data = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data += arr.astype(np.dtype(_DTYPES[code]), copy=False).tobytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


TRAIN_IMAGES = ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz")


def find_train_images(directory: str | Path) -> Path | None:
    """The train-images IDX file (plain preferred, else .gz) in a directory, or None."""
    for name in TRAIN_IMAGES:
        if (p := Path(directory) / name).is_file():
            return p
    return None


def read_images(path: str | Path) -> torch.Tensor:
    """An IDX image file as uint8 (N, 1, H, W)."""
    x = read_idx(path)
    if x.dtype != torch.uint8 or x.ndim != 3:
        raise IdxError(f"{path}: expected uint8 images (N, H, W), got {x.dtype} {tuple(x.shape)}")
    return x.unsqueeze(1)
