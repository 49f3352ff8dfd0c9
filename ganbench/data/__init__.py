"""Datasets; importing this package registers every built-in loader."""

from ganbench.data import (  # noqa: F401  (registration)
    cifar,
    fashion_mnist,
    folder,
    mnist,
    mog,
    stacked_mnist,
    stl10,
)
from ganbench.data.base import DATASETS, Dataset, DataUnavailableError, data_kind

__all__ = ["DATASETS", "DataUnavailableError", "Dataset", "data_kind"]
