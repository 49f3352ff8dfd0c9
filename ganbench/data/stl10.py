"""STL-10 (Coates et al. 2011) for GANs: the 100,000 unlabeled and 5,000 train images, 3x96x96,
as Miyato et al. 2018 and Mimicry train on them, resized once to the model's side (48 for
resnet48, 32 for the 32x32 nets; data/base.py's `resize_once`). Unlabelled as a whole: the
unlabeled part has no classes, so `conditional: true` is refused on it.

Sources, first found wins:
1. torchvision's binary layout under the data root: <root>/stl10_binary/unlabeled_X.bin,
   train_X.bin (and train_y.bin, checked for size);
2. a torchvision download into that folder, unless GANBENCH_OFFLINE=1 or it is unreachable
   (the archive is 2.6 GB).

Each image in the .bin files is 3 x 96 x 96 bytes, each channel stored column by column.
"""

from __future__ import annotations

import os
import socket
import tempfile
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
from ganbench.safefile import MAX_DATA_BYTES, NotAFileError, regular_file

FOLDER = "stl10_binary"
SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
FILES = ("unlabeled_X.bin", "train_X.bin", "train_y.bin")


def count_images(path: Path) -> int:
    try:  # a FIFO or a device is refused by its kind (np.memmap would block or map it)
        size = regular_file(path, "STL-10 file", MAX_DATA_BYTES)
    except NotAFileError as e:
        raise DataUnavailableError(str(e)) from None
    if size == 0 or size % IMAGE_BYTES:
        raise DataUnavailableError(f"{path}: {size} bytes is not a whole number of 3x96x96 "
                                   "images; the file is truncated: delete it and fetch it again")
    return size // IMAGE_BYTES


def read_images(path: Path, out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 (N, 3, 96, 96) from an STL-10 _X.bin file, into `out` when given (no 2nd copy)."""
    n = count_images(path)
    x = np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 3, SIDE, SIDE))
    out = torch.empty((n, 3, SIDE, SIDE), dtype=torch.uint8) if out is None else out
    for i in range(0, n, 4096):  # columns -> rows, a slice at a time
        out[i:i + 4096] = torch.from_numpy(np.ascontiguousarray(
            x[i:i + 4096].transpose(0, 1, 3, 2)))
    return out


def write_images(path: Path, images: np.ndarray) -> None:
    """The inverse of read_images (tests and fixtures): uint8 (N, 3, 96, 96) -> .bin."""
    np.ascontiguousarray(np.asarray(images, np.uint8).transpose(0, 1, 3, 2)).tofile(path)


def download(root: Path, timeout: float = 30.0) -> str | None:
    blocked = torchvision_blocked("STL10")
    if blocked is not None:
        return blocked
    import torchvision.datasets as tvd

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            tvd.STL10(tmp, split="train+unlabeled", download=True)
            if not (Path(root) / FOLDER).exists():
                os.replace(Path(tmp) / FOLDER, Path(root) / FOLDER)
    except Exception as e:
        return f"online download failed ({type(e).__name__}: {e})"
    finally:
        socket.setdefaulttimeout(old)
    return None


def find_stl10(root: Path, fetch: bool = True) -> Path:
    """<root>/stl10_binary with its files; a download when absent (fetch=False: only whether
    one could start, for planning)."""
    folder = Path(root) / FOLDER
    where = (f"put torchvision's {FOLDER}/ folder ({', '.join(FILES)}) under the data root "
             f"{root} (or point GANBENCH_DATA at a root that has it), or run online once "
             "(unset GANBENCH_OFFLINE) and torchvision downloads it there (2.6 GB)")
    if not folder.is_dir():
        if not fetch:
            offline = os.environ.get("GANBENCH_OFFLINE", "").strip() == "1"
            if offline:
                raise DataUnavailableError(f"stl10 not found: no folder {folder} (online "
                                           f"download skipped (GANBENCH_OFFLINE=1)); {where}")
            return folder
        note = download(root)
        if note is not None:
            raise DataUnavailableError(f"stl10 not found: no folder {folder} ({note}); {where}")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DataUnavailableError(f"stl10 is incomplete: {folder} has no "
                                   f"{', '.join(missing)}; {where}")
    return folder


def load_stl10(root: Path) -> Dataset:
    folder = find_stl10(root)
    xs = [folder / "unlabeled_X.bin", folder / "train_X.bin"]
    n_unlabeled, n_train = (count_images(p) for p in xs)
    if (folder / "train_y.bin").stat().st_size != n_train:
        raise DataUnavailableError(f"{folder / 'train_y.bin'} does not hold one label per "
                                   f"image of train_X.bin ({n_train}); fetch both again")
    check_fits((n_unlabeled + n_train) * IMAGE_BYTES, f"stl10 in {folder}")
    images = torch.empty((n_unlabeled + n_train, 3, SIDE, SIDE), dtype=torch.uint8)
    read_images(xs[0], images[:n_unlabeled])
    read_images(xs[1], images[n_unlabeled:])
    return Dataset("stl10", "images", f"torchvision-layout:{folder}", images=images,
                   resize_once=True)


register_dataset(DatasetSpec(
    "stl10", "images", load_stl10, shape=(3, SIDE, SIDE), max_size=SIDE,
    check=lambda root: find_stl10(root, fetch=False),
    source=f"STL-10 unlabeled + train: torchvision's {FOLDER}/ under the data root, or its "
    "download"))
