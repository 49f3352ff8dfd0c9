"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): 50,000 train and 10,000 test images, 3x32x32,
with labels (CIFAR-100: the 100 fine labels). Sources, first found wins:

1. torchvision's python layout under the data root: <root>/cifar-10-batches-py/data_batch_1..5
   and test_batch, <root>/cifar-100-python/train and test (a copy made elsewhere works as is);
2. a torchvision download into that folder, unless GANBENCH_OFFLINE=1 or it is unreachable.

The batches are pickles; they are read with data/unpickle.py's restricted unpickler, which
admits only the numpy and builtin types they hold, never with a plain `pickle.load`.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganbench.data.base import (
    Dataset,
    DatasetSpec,
    DataUnavailableError,
    check_fits,
    register_dataset,
)
from ganbench.data.mnist import torchvision_blocked
from ganbench.data.unpickle import safe_load


@dataclass(frozen=True)
class Layout:
    name: str
    folder: str  # torchvision's folder under the root
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    classes: int
    torchvision: str  # the torchvision.datasets class that downloads it


LAYOUTS = {
    "cifar10": Layout("cifar10", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                      "labels", 10, "CIFAR10"),
    "cifar100": Layout("cifar100", "cifar-100-python", ("train",), ("test",),
                       "fine_labels", 100, "CIFAR100"),
}


def read_batch(path: Path, lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 3, 32, 32) and int64 (N,) from one python-pickle batch."""
    try:
        d = safe_load(path)
    except ValueError as e:  # RefusedPickleError included: the message names the file
        raise DataUnavailableError(str(e)) from None
    if not isinstance(d, dict):
        raise DataUnavailableError(f"{path}: expected a CIFAR batch (a dict), got "
                                   f"{type(d).__name__}; replace the file with the original")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or lay.label_key not in d:
        raise DataUnavailableError(f"{path}: no 'data' or {lay.label_key!r} entry (keys "
                                   f"{sorted(d)[:6]}); is this a {lay.name} batch?")
    x, y = np.asarray(d["data"]), np.asarray(d[lay.label_key])
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or len(y) != len(x):
        raise DataUnavailableError(f"{path}: data {x.dtype} {x.shape} and {len(y)} labels; "
                                   f"expected uint8 (N, 3072) and N labels")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= lay.classes):
        raise DataUnavailableError(f"{path}: labels outside 0..{lay.classes - 1}")
    return x.reshape(-1, 3, 32, 32), y  # rows are R plane, G plane, B plane (row-major)


def download(root: Path, lay: Layout, timeout: float = 30.0) -> str | None:
    """torchvision's download and extraction into <root>/<folder>; None on success, else a
    note saying why not (offline, unreachable, failed)."""
    blocked = torchvision_blocked(lay.torchvision)
    if blocked is not None:
        return blocked
    import torchvision.datasets as tvd

    cls = getattr(tvd, lay.torchvision)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        # Into a private temp dir, then one rename: other workers never see half a folder.
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            cls(tmp, train=True, download=True)
            dst = Path(root) / lay.folder
            if not dst.exists():
                os.replace(Path(tmp) / lay.folder, dst)
    except Exception as e:  # any network or integrity error: say so, do not crash
        return f"online download failed ({type(e).__name__}: {e})"
    finally:
        socket.setdefaulttimeout(old)
    return None


def _where(root: Path, lay: Layout) -> str:
    return (f"put torchvision's {lay.folder}/ folder ({', '.join(lay.train + lay.test)}) "
            f"under the data root {root} (or point GANBENCH_DATA at a root that has it), "
            f"or run online once (unset GANBENCH_OFFLINE) and torchvision downloads it there")


def find_files(root: Path, lay: Layout, fetch: bool = True) -> Path:
    """<root>/<folder> with every batch present; a download when the folder is absent (with
    fetch=False: only whether one could start)."""
    folder = Path(root) / lay.folder
    names = lay.train + lay.test
    if not folder.is_dir():
        note = download(root, lay) if fetch else torchvision_blocked(lay.torchvision)
        if note is not None:
            raise DataUnavailableError(f"{lay.name} not found: no folder {folder} ({note}); "
                                       + _where(root, lay))
        if not fetch:
            return folder
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        have = [n for n in names if n not in missing]
        raise DataUnavailableError(
            f"{lay.name} is incomplete: {folder} has no {', '.join(missing)} (found "
            f"{', '.join(have) or 'none of its files'}); copy the missing files from the "
            f"original archive, or delete {folder} and run online once so torchvision "
            "downloads it whole")
    return folder


def load_cifar(root: Path, name: str) -> Dataset:
    lay = LAYOUTS[name]
    folder = find_files(root, lay)
    check_fits(sum((folder / n).stat().st_size for n in lay.train + lay.test),
               f"{lay.name} in {folder}")
    parts = {}
    for split, names in (("train", lay.train), ("test", lay.test)):
        read = [read_batch(folder / n, lay) for n in names]
        parts[split] = (torch.from_numpy(np.concatenate([x for x, _ in read])),
                        torch.from_numpy(np.concatenate([y for _, y in read])))
    (x, y), (tx, ty) = parts["train"], parts["test"]
    return Dataset(name, "images", f"torchvision-layout:{folder}", images=x, labels=y,
                   classes=lay.classes, test_images=tx, test_labels=ty, resize_once=True)


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray, label_key: str = "labels",
                protocol: int = 2) -> None:
    """A CIFAR-style batch (for tests and fixtures): {'data': uint8 (N, 3072), label_key:
    [int], 'batch_label': ..., 'filenames': [...]}, as the originals hold."""
    import pickle

    images = np.asarray(images, dtype=np.uint8)
    d = {"batch_label": "synthetic batch", label_key: [int(v) for v in labels],
         "data": images.reshape(len(images), -1), "filenames": [f"{i}.png" for i in
                                                                  range(len(images))]}
    if label_key == "fine_labels":
        d["coarse_labels"] = [int(v) // 5 for v in labels]
    Path(path).write_bytes(pickle.dumps(d, protocol=protocol))


def load_cifar10(root: Path) -> Dataset:
    return load_cifar(root, "cifar10")


def load_cifar100(root: Path) -> Dataset:
    return load_cifar(root, "cifar100")


for _lay, _load in ((LAYOUTS["cifar10"], load_cifar10), (LAYOUTS["cifar100"], load_cifar100)):
    register_dataset(DatasetSpec(
        _lay.name, "images", _load, shape=(3, 32, 32), classes=_lay.classes, labelled=True,
        check=lambda root, _lay=_lay: find_files(root, _lay, fetch=False),
        max_size=32, splits=("train", "test"), test_size=10_000, train_size=50_000,
        source=f"torchvision's {_lay.folder}/ under the data root, or its download"))
