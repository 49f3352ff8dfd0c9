"""Shared fixtures: a tiny synthetic image dataset so unit tests never need real MNIST files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.data.base import DATASETS, Dataset
from ganbench.validate import validate

TINY_IMAGES = "tiny-images"

if TINY_IMAGES not in DATASETS:

    @DATASETS.register(TINY_IMAGES)
    def load_tiny_images(root: Path) -> Dataset:
        # Own generator: loading must not depend on (or disturb) the global RNG state.
        gen = torch.Generator().manual_seed(1234)
        images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
        return Dataset(TINY_IMAGES, "images", "synthetic", images=images)


@pytest.fixture(autouse=True)
def _cpu_threads():
    """Keep CPU runs small and deterministic-ish across machines."""
    old = torch.get_num_threads()
    torch.set_num_threads(min(old, 2))
    yield
    torch.set_num_threads(old)


def make_cfg(**overrides) -> RunConfig:
    """A validated, small CPU config (ring8/mlp unless overridden)."""
    base = dict(steps=2, batch_size=32, device="cpu", log_every=1, eval_samples=256)
    base.update(overrides)
    return validate(RunConfig(**base))


@pytest.fixture
def cfg_factory(tmp_path):
    def factory(**overrides) -> RunConfig:
        overrides.setdefault("data_root", tmp_path)
        return make_cfg(**overrides)

    return factory
