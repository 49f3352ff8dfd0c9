"""The dataset contract: every dataset is one tensor (or a closed-form sampler) on the device.

No DataLoader per step: image sets are held as uint8 (N, C, H, W) on the training device and
batches are drawn by random indices, so every batch is full and sampling costs one gather.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from ganbench.registry import Registry


class DataUnavailableError(RuntimeError):
    """No source for a dataset could be found; the message says how to get one."""


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: Literal["points", "images"]
    source: str  # where the data came from, recorded with every run
    images: torch.Tensor | None = None  # uint8 (N, C, H, W) for image sets
    modes: torch.Tensor | None = None  # (K, 2) mode centres for mixtures
    mode_std: float | None = None
    size: int | None = None  # images are resized to size x size when sampled
    labels: torch.Tensor | None = None  # (N,) int64 class of each image, where known

    @property
    def shape(self) -> tuple[int, ...]:
        if self.kind == "points":
            return (2,)
        assert self.images is not None
        c, h, _ = self.images.shape[1:]
        s = self.size or h
        return (c, s, s)

    def to(self, device: torch.device | str) -> Dataset:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(self, images=move(self.images), modes=move(self.modes),
                       labels=move(self.labels))

    def resized(self, size: int | None) -> Dataset:
        return replace(self, size=size)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples: points (n, 2) or images (n, C, S, S) in [-1, 1]. Draws from `generator`
        (a run's own stream) or else the global torch RNG."""
        if self.kind == "points":
            assert self.modes is not None and self.mode_std is not None
            dev = self.modes.device
            idx = torch.randint(len(self.modes), (n,), device=dev, generator=generator)
            noise = torch.randn(n, 2, device=dev, generator=generator)
            return self.modes[idx] + self.mode_std * noise
        assert self.images is not None
        idx = torch.randint(len(self.images), (n,), device=self.images.device,
                            generator=generator)
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        if self.size is not None and self.size != x.shape[-1]:
            # Same as pytorch/examples' dcgan: 28x28 digits upsampled for the 64x64 nets.
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        return x


# A loader takes the data root folder and returns a CPU Dataset.
Loader = Callable[[Path], Dataset]
DATASETS: Registry[Loader] = Registry("dataset")


def data_kind(name: str) -> str:
    """"points" or "images", known without loading (configs are checked before training)."""
    return getattr(DATASETS.get(name), "kind", "images")


def labelled_by(classifier: str):
    """Declare that ganbench's own `classifier` (metrics/classifier.py: one trained on that
    labelled dataset) labels each channel of this dataset's images, which gives its runs the
    classifier metrics (`image_metrics: [labels, cis]`, metrics/labels.py)."""

    def deco(fn: Loader) -> Loader:
        fn.classifier = classifier  # type: ignore[attr-defined]
        return fn

    return deco


def dataset_classifier(name: str) -> str | None:
    """The classifier that labels a dataset's images (known without loading), or None."""
    return getattr(DATASETS.get(name), "classifier", None)


def points_dataset(name: str):
    """Register a 2-D loader (image loaders use DATASETS.register directly)."""

    def deco(fn: Loader) -> Loader:
        fn.kind = "points"  # type: ignore[attr-defined]
        return DATASETS.register(name)(fn)

    return deco
