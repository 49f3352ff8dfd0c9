"""Shared test setup: a tiny synthetic image dataset (so unit tests never need real MNIST
files) and single-threaded torch (fast and stable on small, busy CPU machines)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganbench.data.base import DATASETS, Dataset

TINY_IMAGES = "tiny-images"

if TINY_IMAGES not in DATASETS:

    @DATASETS.register(TINY_IMAGES)
    def load_tiny_images(root: Path) -> Dataset:
        # Own generator: loading must not depend on (or disturb) the global RNG state.
        gen = torch.Generator().manual_seed(1234)
        images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
        return Dataset(TINY_IMAGES, "images", "synthetic", images=images)


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """Tiny nets gain nothing from intra-op threads, and on a busy machine OpenMP's
    spin-waiting makes them 10-100x slower; one thread keeps the suite fast everywhere."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
