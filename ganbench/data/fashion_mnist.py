"""Fashion-MNIST train split (uint8, N x 1 x 28 x 28). Sources, first found wins:

1. torchvision's layout under the root: <root>/FashionMNIST/raw/train-images-idx3-ubyte(.gz);
2. a torchvision download, unless GANBENCH_OFFLINE=1 or the mirror is unreachable;
3. the IDX files of Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
   overridable with GANBENCH_FASHION_MNIST_DIR).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganbench.data.base import Dataset, DatasetSpec, DataUnavailableError, register_dataset
from ganbench.data.idx import IdxError, find_train_images, read_images
from ganbench.data.mnist import find_torchvision_files, torchvision_blocked, torchvision_images

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def debian_dir() -> Path:
    return Path(os.environ.get("GANBENCH_FASHION_MNIST_DIR") or DEBIAN_DIR)


def load_idx_dir(directory: Path) -> torch.Tensor | None:
    """Train images from a directory of IDX files (the Debian layout), or None if absent."""
    path = find_train_images(directory)
    if path is None:
        return None
    try:
        return read_images(path)
    except IdxError as e:
        raise DataUnavailableError(str(e)) from None


def fashion_missing(root: Path, notes: list[str], directory: Path) -> str:
    """The one line that says Fashion-MNIST is missing, why, and how to get it."""
    return (f"Fashion-MNIST not found ({'; '.join(notes)}; no train-images-idx3-ubyte(.gz) "
            f"in {directory}). Get it either online (unset GANBENCH_OFFLINE; torchvision "
            f"downloads into {Path(root) / 'FashionMNIST/raw'}) or, on Debian/Ubuntu, with: "
            f"apt-get install {DEBIAN_PACKAGE}")


def check_fashion_mnist(root: Path) -> None:
    """Planning's check, without downloading: DataUnavailableError unless the files are
    under the root or in Debian's folder, or torchvision's mirror is reachable."""
    directory = debian_dir()
    if (find_torchvision_files(root, "FashionMNIST") is not None
            or find_train_images(directory) is not None):
        return
    why = torchvision_blocked("FashionMNIST")
    if why is not None:
        raise DataUnavailableError(fashion_missing(
            root, [f"no torchvision files in {Path(root) / 'FashionMNIST' / 'raw'}", why],
            directory))


def load_fashion_mnist(root: Path) -> Dataset:
    notes: list[str] = []
    found = torchvision_images(root, "FashionMNIST", notes)
    if found is None:
        directory = debian_dir()
        images = load_idx_dir(directory)
        if images is None:
            raise DataUnavailableError(fashion_missing(root, notes, directory))
        found = images, f"debian {DEBIAN_PACKAGE}:{directory}"
    return Dataset("fashion-mnist", "images", found[1], images=found[0])


register_dataset(DatasetSpec(
    "fashion-mnist", "images", load_fashion_mnist, shape=(1, 28, 28), classes=10,
    classifier="fashion-mnist", check=check_fashion_mnist,
    source=f"Fashion-MNIST train split: torchvision files, a torchvision download, or Debian's "
    f"{DEBIAN_PACKAGE}"))
