"""The dataset contract: every dataset is one tensor (or a closed-form sampler) on the device.

No DataLoader per step: image sets are held as uint8 (N, C, H, W) on the training device and
batches are drawn by random indices, so every batch is full and sampling costs one gather.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ganbench.registry import Registry
from ganbench.safefile import human


class DataUnavailableError(RuntimeError):
    """No source for a dataset could be found; the message says how to get one."""


class DataTooLargeError(DataUnavailableError):
    """A dataset would not fit in memory; refused before it is read."""


MEMORY_ENV = "GANBENCH_DATA_MEMORY"  # bytes (or 8G, 500M) image data may take; default 80% free


def _bytes(text: str) -> int:
    t = text.strip().upper().removesuffix("B")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def memory_limit() -> tuple[int, str]:
    """(bytes image data may take in RAM, where that number comes from)."""
    if os.environ.get(MEMORY_ENV):
        try:
            return _bytes(os.environ[MEMORY_ENV]), f"${MEMORY_ENV}"
        except ValueError:
            raise ValueError(f"${MEMORY_ENV}={os.environ[MEMORY_ENV]!r} is not a size: use "
                             "bytes or e.g. 8G, 500M") from None
    try:
        with open("/proc/meminfo") as f:
            info = {k: v for k, _, v in (line.partition(":") for line in f)}
        free = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):  # not Linux: the physical size, where known
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(free * 0.8), "80% of the memory available now"


def check_fits(nbytes: int, what: str, limit: tuple[int, str] | None = None) -> None:
    """DataTooLargeError (one line: size and limit) if `nbytes` of images would not fit."""
    cap, why = limit or memory_limit()
    if nbytes > cap:
        more = f", or set {MEMORY_ENV} if more is free" if limit is None else ""
        raise DataTooLargeError(
            f"{what}: {human(nbytes)} of uint8 images would not fit in memory (limit "
            f"{human(cap)}, {why}); use a lower resolution or fewer images{more}")


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
    classes: int | None = None  # number of label classes; None = unlabelled
    # The test split (CPU uint8, and its labels), where the dataset has one: FID protocols
    # that score against it (metrics/fidelity.py) read it; training never does.
    test_images: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    # Resize the whole set once to the model's side (uint8) instead of every batch: for sets
    # whose native side differs from the model's by design (STL-10's 96 -> 48), so sampling
    # stays one gather. MNIST keeps its per-batch resize (recorded results depend on it).
    resize_once: bool = False
    skipped: int | None = None  # unreadable files left out (image folders); a run tag
    _resized: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        if self.kind == "points":
            assert self.modes is not None
            return (self.modes.shape[1],)  # (2,) for the mixtures, (1,) for the Dirac
        assert self.images is not None
        c, h, _ = self.images.shape[1:]
        s = self.size or h
        return (c, s, s)

    def to(self, device: torch.device | str) -> Dataset:
        device = torch.device(device)
        if self.images is not None and self.images.device == device:
            return self  # no copy, and the resize memo stays with it
        if self.images is not None and device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            check_fits(self.images.nbytes, f"dataset {self.name!r} on {device}",
                       (int(free * 0.8), f"80% of {device}'s free memory"))
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        # The test split stays on the CPU: only the evaluator reads it, there.
        return replace(self, images=move(self.images), modes=move(self.modes),
                       labels=move(self.labels), _resized={})

    def resized(self, size: int | None) -> Dataset:
        if not self.resize_once or self.images is None or size is None:
            return replace(self, size=size)
        if size == self.images.shape[-1]:
            return replace(self, size=None)
        if size not in self._resized:  # seeds stacked on one copy share one resize
            test = self.test_images
            self._resized[size] = replace(
                self, images=resize_uint8(self.images, size), size=None, _resized={},
                test_images=None if test is None else resize_uint8(test, size))
        return self._resized[size]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples: points (n, 2) or images (n, C, S, S) in [-1, 1]. Draws from `generator`
        (a run's own stream) or else the global torch RNG."""
        if self.kind == "points":
            assert self.modes is not None and self.mode_std is not None
            dev = self.modes.device
            idx = torch.randint(len(self.modes), (n,), device=dev, generator=generator)
            noise = torch.randn(n, self.modes.shape[1], device=dev, generator=generator)
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


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 1024) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), antialiased bilinear, in chunks (a
    float copy of 100k STL images would take 11 GiB)."""
    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8,
                      device=images.device)
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        out[i:i + chunk] = x.round_().clamp_(0, 255).to(torch.uint8)
    return out


# A loader takes the data root folder (and, for datasets that take them, the options of
# `dataset: {name: ..., key: value}` as keywords) and returns a CPU Dataset.
Loader = Callable[..., Dataset]
Kind = Literal["points", "images"]


@dataclass(frozen=True)
class DataInfo:
    """What a dataset can give, known without reading its images (configs are checked first)."""

    classes: int | None = None  # labelled with this many classes; None = unlabelled
    max_size: int | None = None  # the largest side it gives without upsampling; None = any
    splits: tuple[str, ...] = ("train",)  # "test" where a test split exists (FID protocols)
    test_size: int | None = None  # images in the test split, where there is one
    train_size: int | None = None  # images in the train split, where the count is fixed


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
    # What a run may ask of it (specs/run.py reads these through `dataset_info`):
    max_size: int | None = None  # the largest side it gives without upsampling; None = any
    splits: tuple[str, ...] = ("train",)  # "test" where it has a test split (FID protocols)
    test_size: int | None = None  # its test split's images (compare_gan's generated count)
    train_size: int | None = None  # its train split's images (studiogan2023's generated count)
    # `dataset: {name: ..., key: value}`: the pydantic model that checks the options (passed
    # to `load` as keywords); None = the dataset takes none.
    options: type | None = None
    # DataInfo as a function of the options, for datasets whose labels or sides depend on
    # them (a folder); None = the fields above.
    info: Callable[[dict[str, Any]], DataInfo] | None = None
    # check(root, **options): raise DataUnavailableError (one line: the path and how to get
    # the data) when loading would fail for want of data, without reading it, so a sweep is
    # refused while planning rather than failing run by run. None: not checked ahead.
    check: Callable[..., None] | None = None

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

    def __call__(self, root: Path, **options: Any) -> Dataset:
        return self.load(root, **options)


DATASETS: Registry[DatasetSpec] = Registry("dataset", base=DatasetSpec)


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
    return DATASETS.get(name).classifier


def dataset_info(name: str, options: dict[str, Any] | None = None) -> DataInfo:
    """What a dataset can give a run (labels, largest side, splits), without loading it."""
    spec = DATASETS.get(name)
    if spec.info is not None:
        return spec.info(dict(options or {}))
    return DataInfo(classes=spec.classes if spec.labelled else None, max_size=spec.max_size,
                    splits=spec.splits, test_size=spec.test_size, train_size=spec.train_size)


def dataset_options_model(name: str) -> type | None:
    """The pydantic model a dataset's options are checked with; None = it takes none."""
    return DATASETS.get(name).options


def check_available(name: str, root: Path, options: dict[str, Any] | None = None) -> None:
    """DataUnavailableError when a dataset's data is missing (where its spec can tell ahead)."""
    spec = DATASETS.get(name)
    if spec.check is not None:
        spec.check(Path(root), **(options or {}))


def load_dataset(name: str, root: Path, options: dict[str, Any] | None = None) -> Dataset:
    """Load a registered dataset with its options (a config's `dataset_options`)."""
    return DATASETS.get(name)(root, **(options or {}))

