"""Datasets; importing this package registers every built-in dataset."""

from ganbench.data import fashion_mnist, mnist, mog, stacked_mnist  # noqa: F401  (registration)
from ganbench.data.base import (
    DATASETS,
    Dataset,
    DatasetSpec,
    DataUnavailableError,
    data_kind,
    register_dataset,
)

__all__ = ["DATASETS", "DataUnavailableError", "Dataset", "DatasetSpec", "data_kind",
           "register_dataset"]
