"""The dataset digest MLflow records: equal data, equal digest; any change, another."""

from __future__ import annotations

from dataclasses import replace

import torch

from ganbench.data import DATASETS
from ganbench.data.base import Dataset
from ganbench.store.mlflow import dataset_digest


def test_digest_follows_the_contents():
    a = DATASETS.get("ring8")(None)
    b = DATASETS.get("ring8")(None)
    assert dataset_digest(a)[0] == dataset_digest(b)[0]
    moved = replace(a, modes=a.modes + 1e-3)
    assert dataset_digest(moved)[0] != dataset_digest(a)[0]
    imgs = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    one = Dataset("x", "images", "test", images=imgs)
    two = Dataset("x", "images", "test", images=imgs.clone().index_fill_(0, torch.tensor([0]), 1))
    assert dataset_digest(one)[0] != dataset_digest(two)[0]
    assert '"num_rows": 4' in dataset_digest(one)[1]
