"""The dataset contract: every dataset is one tensor (or a closed-form sampler) on the device.

No DataLoader per step: image sets are held as uint8 (N, C, H, W) on the training device and
batches are drawn by random indices, so every batch is full and sampling costs one gather.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
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
        return self._images_at(idx)

    def _images_at(self, idx: torch.Tensor) -> torch.Tensor:
        assert self.images is not None
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        if self.size is not None and self.size != x.shape[-1]:
            # Same as pytorch/examples' dcgan: 28x28 digits upsampled for the 64x64 nets.
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        return x

    # --- class labels (class-conditional runs)
    @property
    def n_classes(self) -> int:
        """1 + the largest label (0 when unlabelled)."""
        return 0 if self.labels is None or not len(self.labels) else int(self.labels.max()) + 1

    @cached_property
    def _by_class(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Image indices sorted by class, and each class's first position and count."""
        assert self.labels is not None
        order = torch.argsort(self.labels, stable=True)
        count = torch.bincount(self.labels, minlength=self.n_classes)
        return order, torch.cumsum(count, 0) - count, count

    def check_labelled(self) -> None:
        """ValueError unless every class 0..K-1 has images (conditional runs draw classes
        uniformly, so an empty class could not be sampled)."""
        if self.labels is None:
            raise ValueError(f"conditional: dataset {self.name!r} ({self.source}) has no "
                             "class labels; remove conditional or use a labelled dataset")
        empty = (self._by_class[2] == 0).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"conditional: dataset {self.name!r} has no images of class(es) "
                             f"{empty[:10]} (of {self.n_classes}); every class needs images")

    def sample_labelled(self, n: int, generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """n images of uniformly drawn classes, and the classes (n,) int64: class-balanced
        whatever the classes' frequencies (a conditional run's real batch)."""
        order, start, count = self._by_class
        dev = order.device
        y = torch.randint(self.n_classes, (n,), device=dev, generator=generator)
        u = torch.rand(n, device=dev, generator=generator, dtype=torch.float64)
        within = (u * count[y]).long().clamp_max_(count[y] - 1)
        return self._images_at(order[start[y] + within]), y


# A loader takes the data root folder and returns a CPU Dataset.
Loader = Callable[[Path], Dataset]
Kind = Literal["points", "images"]


@dataclass(frozen=True)
class DatasetSpec:
    """What the rest of ganbench knows about a dataset without loading it.

    Calling the spec loads the data: `DATASETS.get(name)(root)` -> Dataset."""

    name: str
    kind: Kind
    load: Loader
    shape: tuple[int, ...] | None = None  # one sample's shape as stored ((2,), (C, H, W))
    classes: int | None = None  # classes (or mixture modes) the data has; None: unknown
    source: str = ""  # where the data comes from (the loaded Dataset records the exact one)
    # ganbench's own classifier (metrics/classifier.py, one trained on that labelled set)
    # that labels each channel of the images: gives runs the classifier metrics
    # (`image_metrics: [labels, cis]`). None: no classifier labels this data.
    classifier: str | None = None
    # The loaded Dataset carries `labels`, one of `classes` per image (class-conditional runs
    # need them; MNIST's GAN loader declares 10 classes but loads no labels).
    labelled: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("points", "images"):
            raise ValueError(f"dataset {self.name!r}: kind must be 'points' or 'images', not "
                             f"{self.kind!r}")
        if not callable(self.load):
            raise ValueError(f"dataset {self.name!r}: load must be callable")
        if self.shape is not None and (not self.shape or any(
                not isinstance(n, int) or n < 1 for n in self.shape)):
            raise ValueError(f"dataset {self.name!r}: shape must be positive ints, not "
                             f"{self.shape!r}")
        if self.classes is not None and self.classes < 1:
            raise ValueError(f"dataset {self.name!r}: classes must be >= 1 or None")

    def __call__(self, root: Path) -> Dataset:
        return self.load(root)


def _from_loader(obj: object, name: str | None) -> object:
    """The old way in, kept: a bare loader function (`DATASETS.register(name)(fn)`), whose
    kind and classifier were attributes set on it (`points_dataset`, `labelled_by`)."""
    if isinstance(obj, DatasetSpec) or not callable(obj):
        return obj
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    return DatasetSpec(name or "", getattr(obj, "kind", "images"), obj,
                       classifier=getattr(obj, "classifier", None),
                       source=doc[0] if doc else "")


DATASETS: Registry[DatasetSpec] = Registry("dataset", base=DatasetSpec, adapt=_from_loader)


def register_dataset(spec: DatasetSpec | str, kind: Kind = "points", **fields):
    """Register a dataset: `register_dataset(DatasetSpec(...))`, or as a decorator of its
    loader, `@register_dataset("ring16", kind="points", classes=16)` (kind defaults to
    points; the other DatasetSpec
    fields by keyword). The spec's `name` is its name in run files."""
    if isinstance(spec, DatasetSpec):
        return DATASETS.register(spec)
    if not isinstance(spec, str):
        raise ValueError("register_dataset takes a DatasetSpec, or a name (and kind= "
                         "'points' or 'images') to decorate a loader")

    def deco(fn: Loader) -> Loader:
        DATASETS.register(DatasetSpec(spec, kind, fn, **fields))
        return fn

    return deco


def data_kind(name: str) -> str:
    """"points" or "images", known without loading (configs are checked before training)."""
    return DATASETS.get(name).kind


def dataset_classifier(name: str) -> str | None:
    """The classifier that labels a dataset's images (known without loading), or None."""
    spec = DATASETS.get(name)
    # A loader registered the old way may be marked by `labelled_by` after registering.
    return spec.classifier or getattr(spec.load, "classifier", None)


def labelled_by(classifier: str):
    """Old way, kept for loaders registered as functions: mark `classifier` as the one that
    labels this loader's images (new code sets `DatasetSpec.classifier`)."""

    def deco(fn: Loader) -> Loader:
        fn.classifier = classifier  # type: ignore[attr-defined]
        return fn

    return deco


def points_dataset(name: str):
    """Old way, kept: register a 2-D loader function (new code: `register_dataset`)."""

    def deco(fn: Loader) -> Loader:
        fn.kind = "points"  # type: ignore[attr-defined]
        return DATASETS.register(name)(fn)

    return deco


def dataset_labelled(name: str) -> bool:
    """Whether a dataset's loaded images carry their class labels (`DatasetSpec.labelled`),
    known without loading: what `conditional: true` needs."""
    spec = DATASETS.get(name)
    return spec.labelled or bool(getattr(spec.load, "labelled", False))
