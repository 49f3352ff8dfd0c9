"""Small files in the real dataset formats (CIFAR pickle batches, STL-10 binaries, PNG
trees), built in a test's tmp_path: no data set is ever committed."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganbench.data import cifar, stl10


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def cifar10_root(tmp_path, per_batch: int = 3, skip: tuple[str, ...] = ()):
    """<tmp>/root with cifar-10-batches-py: batch i holds images(per_batch, i)."""
    folder = tmp_path / "root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(cifar.LAYOUTS["cifar10"].train + ("test_batch",)):
        if name not in skip:
            cifar.write_batch(folder / name, images(per_batch, i), np.arange(per_batch) % 10)
    return tmp_path / "root"


def stl_root(tmp_path, n_unlabeled: int = 3, n_train: int = 2):
    """(root, unlabeled images, train images) with stl10_binary/ under root."""
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    u = rng.integers(0, 256, (n_unlabeled, 3, 96, 96), dtype=np.uint8)
    t = rng.integers(0, 256, (n_train, 3, 96, 96), dtype=np.uint8)
    stl10.write_images(folder / "unlabeled_X.bin", u)
    stl10.write_images(folder / "train_X.bin", t)
    (folder / "train_y.bin").write_bytes(bytes(range(1, n_train + 1)))
    return tmp_path, u, t


def png(path, w: int, h: int, seed: int, fmt: str = "PNG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)
    return arr


def make_tree(root, classes=("cat", "dog"), per_class: int = 3):
    """One sub-folder of PNGs (of mixed sizes) per class."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            png(root / name / f"{i}.png", 20 + 4 * i, 16, seed=10 * c + i)
    return root
