"""Datasets; importing this package registers every built-in dataset."""

from ganbench.data import (  # noqa: F401  (registration)
    cifar,
    dirac,
    fashion_mnist,
    folder,
    mnist,
    mog,
    stacked_mnist,
    stl10,
)
from ganbench.data.base import (
    DATASETS,
    Dataset,
    DatasetSpec,
    DataUnavailableError,
    check_available,
    data_kind,
    register_dataset,
)

__all__ = ["DATASETS", "DataUnavailableError", "Dataset", "DatasetSpec", "check_available",
           "data_kind", "register_dataset"]
