"""Datasets; importing this package registers every built-in loader."""

from ganbench.data import fashion_mnist, mnist, mog, stacked_mnist  # noqa: F401  (registration)
from ganbench.data.base import DATASETS, Dataset, DataUnavailableError, data_kind

__all__ = ["DATASETS", "DataUnavailableError", "Dataset", "data_kind"]
