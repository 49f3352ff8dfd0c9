"""Where the contract exercises a trick: tiny runs on CPU, 2-D points first (fast), then tiny
synthetic images for tricks that need images. Nothing here reads or downloads data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganbench.config import ConfigError, RunConfig
from ganbench.data import DATASETS, Dataset
from ganbench.data.base import DatasetSpec, register_dataset
from ganbench.specs.run import validate
from ganbench.tricks import TRICKS

# Registered only while a check runs (DATASETS.scoped()), so it never shows in `ganbench`'s
# dataset list and never reaches a sweep.
CONTRACT_IMAGES = "contract-images"
CONTRACT_LABELLED = "contract-labelled"
LABELLED_CLASSES = 4
LOSSES = ("ns", "hinge")  # the first under which a trick validates is used


@dataclass(frozen=True)
class Context:
    dataset: str
    model: str
    batch_size: int  # for 2-step smoke runs
    small_batch: int  # for the longer runs of the resume and stacking checks
    extra: tuple[tuple[str, Any], ...] = ()  # other run fields (conditional: true, widths)

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.model}" + ("/conditional" if self.extra else "")

    def fields(self) -> dict[str, Any]:
        """The run fields that make this context (dataset, model and any extra)."""
        return {"dataset": self.dataset, "model": self.model, **dict(self.extra)}


POINTS = Context("ring8", "mlp", 32, 32)
IMAGES = Context(CONTRACT_IMAGES, "dcgan28", 16, 4)
# Class-conditional runs (and tricks only for them, Trick.conditional_only): tiny labelled
# colour images on a narrow SNGAN-32.
CONDITIONAL = Context(CONTRACT_LABELLED, "sngan32", 16, 8,
                      (("conditional", True), ("g_width", 2), ("d_width", 4)))
CONTEXTS: tuple[Context, ...] = (POINTS, IMAGES, CONDITIONAL)
# Where declared conflicts are compared with the planner (data kind x loss).
CONFLICT_SETTINGS: tuple[tuple[Context, str], ...] = ((POINTS, "ns"), (IMAGES, "hinge"))


@dataclass(frozen=True)
class _DefaultDtypeImages(Dataset):
    """Images sampled in torch's default dtype (float64 for the exact stacking check)."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return super().sample(n, generator).to(torch.get_default_dtype())


def load_contract_images(root: Path) -> Dataset:
    # Own generator: loading must neither depend on nor disturb the global RNG.
    gen = torch.Generator().manual_seed(1234)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=gen)
    return _DefaultDtypeImages(CONTRACT_IMAGES, "images", "synthetic (contract)",
                               images=images)


def load_contract_labelled(root: Path) -> Dataset:
    """64 colour 32x32 images in 4 classes (class k brighter with k), labelled."""
    gen = torch.Generator().manual_seed(4321)
    labels = torch.arange(64) % LABELLED_CLASSES
    noise = torch.randint(0, 64, (64, 3, 32, 32), dtype=torch.uint8, generator=gen)
    images = noise + (labels * 60).to(torch.uint8)[:, None, None, None]
    return _DefaultDtypeImages(CONTRACT_LABELLED, "images", "synthetic (contract)",
                               images=images, labels=labels)


@contextmanager
def contract_data() -> Iterator[None]:
    """The contract's synthetic images are datasets while the block runs (nested: once)."""
    if CONTRACT_IMAGES in DATASETS:
        yield
        return
    with DATASETS.scoped():
        register_dataset(DatasetSpec(CONTRACT_IMAGES, "images", load_contract_images,
                                     source="synthetic (contract)"))
        register_dataset(DatasetSpec(CONTRACT_LABELLED, "images", load_contract_labelled,
                                     shape=(3, 32, 32), classes=LABELLED_CLASSES,
                                     labelled=True, source="synthetic (contract)"))
        yield


def canon() -> list[str]:
    """The built-in tricks (a plugin's or a test's are verified against these)."""
    return TRICKS.names(origin="built-in")


def run_config(ctx: Context, loss: str, tricks: dict[str, dict], **over: Any) -> RunConfig:
    """A validated tiny CPU run (ConfigError if the tricks conflict there)."""
    base = dict(**ctx.fields(), batch_size=ctx.batch_size, loss=loss,
                tricks=tricks, steps=2, log_every=1, eval_samples=256, device="cpu")
    return validate(RunConfig(**{**base, **over}))


def first_loss(ctx: Context, tricks: dict[str, dict]) -> str | None:
    """The first loss of LOSSES under which `tricks` validate in `ctx`, else None."""
    with contract_data():
        for loss in LOSSES:
            try:
                run_config(ctx, loss, tricks)
            except ConfigError:
                continue
            return loss
    return None


def settings(tricks: dict[str, dict], contexts: tuple[Context, ...] = CONTEXTS
             ) -> list[tuple[Context, str]]:
    """Every (context, first valid loss) where `tricks` validate, in the order of `contexts`."""
    out = []
    for ctx in contexts:
        if (loss := first_loss(ctx, tricks)) is not None:
            out.append((ctx, loss))
    return out


def first_setting(tricks: dict[str, dict], contexts: tuple[Context, ...] = CONTEXTS
                  ) -> tuple[Context, str] | None:
    for ctx in contexts:
        if (loss := first_loss(ctx, tricks)) is not None:
            return ctx, loss
    return None

