"""The Dirac-GAN's data (Mescheder, Geiger & Nowozin 2018, arXiv:1801.04406, section 2.2):
a point mass at 0 on the real line. Samples are exactly 0 (std 0); runs on it are scored by
the distance of (theta, psi) to the equilibrium (metrics/dirac.py registers that scorer
for this dataset), not by mode metrics."""

from __future__ import annotations

from pathlib import Path

import torch

from ganbench.data.base import Dataset, DatasetSpec, register_dataset


def load_dirac(root: Path) -> Dataset:
    return Dataset("dirac", "points", "synthetic: a point mass at 0 (Dirac-GAN)",
                   modes=torch.zeros(1, 1), mode_std=0.0)


register_dataset(DatasetSpec("dirac", "points", load_dirac, shape=(1,), classes=1,
                             source="synthetic: a point mass at 0 (Mescheder et al. 2018)"))
