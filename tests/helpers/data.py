"""A tiny synthetic image dataset, so unit tests never need real MNIST files."""

from __future__ import annotations

from pathlib import Path

import torch

from ganbench.data.base import DATASETS, Dataset, DatasetSpec, register_dataset

TINY_IMAGES = "tiny-images"


def load_tiny_images(root: Path) -> Dataset:
    # Own generator: loading must not depend on (or disturb) the global RNG state.
    gen = torch.Generator().manual_seed(1234)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
    return Dataset(TINY_IMAGES, "images", "synthetic", images=images)


def register_tiny_images() -> None:
    """Register it for the whole session: tests parametrise over it at collection time."""
    if TINY_IMAGES not in DATASETS:
        register_dataset(DatasetSpec(TINY_IMAGES, "images", load_tiny_images, shape=(1, 28, 28),
                                     source="synthetic: 64 uniform-noise 28x28 images"))


TINY_LABELLED = "tiny-labelled"
TINY_CLASSES = 4


def load_tiny_labelled(root: Path) -> Dataset:
    """64 colour 32x32 images in 4 classes (class k is brighter with k), labelled."""
    gen = torch.Generator().manual_seed(4321)
    labels = torch.arange(64) % TINY_CLASSES
    noise = torch.randint(0, 64, (64, 3, 32, 32), dtype=torch.uint8, generator=gen)
    images = noise + (labels * 60).to(torch.uint8)[:, None, None, None]
    return Dataset(TINY_LABELLED, "images", "synthetic", images=images, labels=labels)


def register_tiny_labelled() -> None:
    """Session-wide like tiny-images: the trick contract's conditional context names it at
    collection time."""
    if TINY_LABELLED not in DATASETS:
        register_dataset(DatasetSpec(TINY_LABELLED, "images", load_tiny_labelled,
                                     shape=(3, 32, 32), classes=TINY_CLASSES, labelled=True,
                                     source="synthetic: 64 labelled 32x32 images, 4 classes"))
