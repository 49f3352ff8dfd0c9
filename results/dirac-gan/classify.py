"""Tabulate the dirac-gan sweep's per-run classification (the `dirac.trend` tag each run's
scorer sets from its distances to the equilibrium, ganbench/metrics/dirac.py) by cell, beside
Mescheder et al. 2018's classification of the methods they name.

    python results/dirac-gan/classify.py [runs.csv]   # default: this folder's runs.csv
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd

# (cell as the report names it, the paper's method, the paper's class); the paper's names:
# arXiv:1801.04406, abstract and the project page's Dirac-GAN figure caption (README.md)
PAPER = [
    ("baseline · loss=minimax", "GAN", "not convergent"),
    ("baseline · loss=ns", "NS-GAN", "not convergent"),
    ("baseline · loss=wasserstein", "WGAN", "not convergent"),
    ("gp · loss=wasserstein", "WGAN-GP", "not convergent"),
    ("inoise · loss=minimax", "GAN + instance noise", "converges"),
    ("r1 · loss=minimax", "GAN + R1", "converges"),
    ("r2 · loss=minimax", "GAN + R2", "converges"),
]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "runs.csv"
    runs = pd.read_csv(path)
    runs = runs[runs["status"] == "finished"]
    by_cell = {c: Counter(g["tags.dirac.trend"]) for c, g in runs.groupby("cell")}
    named = {c for c, _, _ in PAPER}

    def counts(c: str) -> str:
        n = by_cell.get(c, Counter())
        return ", ".join(f"{k} {n[k]}" for k in ("converges", "circles", "diverges") if n[k])

    print("| paper's method | cell | paper | ganbench (runs per class) | agree? |")
    print("|---|---|---|---|---|")
    for cell, method, theirs in PAPER:
        n = by_cell.get(cell, Counter())
        ours_conv = n["converges"] == sum(n.values()) and n
        agree = bool(ours_conv) == (theirs == "converges") if n else None
        print(f"| {method} | {cell} | {theirs} | {counts(cell) or 'no runs'} | "
              f"{'—' if agree is None else 'yes' if agree else 'no'} |")
    print("\nCells the paper does not name:\n")
    print("| cell | ganbench (runs per class) |\n|---|---|")
    for cell in sorted(set(by_cell) - named):
        print(f"| {cell} | {counts(cell)} |")


if __name__ == "__main__":
    main()
