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
