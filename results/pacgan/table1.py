"""PacGAN Table 1 beside ours: mean ± standard error over trials of modes, high-quality
samples (%) and reverse KL per cell, from the sweeps' reports (results/pacgan-*/runs.csv).
`python results/pacgan/table1.py [SUFFIX]` (after `ganbench report pacgan-ring` /
`pacgan-grid`; SUFFIX `-long`: the pacgan-ring-long / pacgan-grid-long sweeps)."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1]
# Lin et al. 2018, Table 1 (means ± s.e., 10 trials, 400 epochs); PacGAN rows: modes only.
PAPER = {
    "ring": {"baseline": "6.3 ± 0.5 · 98.2 % · 0.45", "pack": "7.8–7.9 modes (m = 2–4)"},
    "grid": {"baseline": "17.3 ± 0.8 · 94.8 % · 0.70", "pack": "23.8–24.8 modes (m = 2–4)"},
}
CELLS = ["baseline", "pack2", "pack3", "pack4", "pack"]  # "pack": a sweep with one level


def values(rs: list[dict], key: str) -> list[float]:
    """The defined values of `key` (an undefined reverse KL is blank or nan: not averaged)."""
    return [float(r[key]) for r in rs if r.get(key) not in (None, "", "nan")]


def mean_se(xs: list[float]) -> str:
    if not xs:
        return "—"
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return f"{m:.2f}"
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return f"{m:.2f} ± {sd / math.sqrt(len(xs)):.2f}"


def _m(run: dict) -> str:
    """The packing degree of a run whose cell label does not carry it (one pack level)."""
    return run.get("params.tricks.pack.m") or run.get("trick.pack", "?")


def rows(kind: str, suffix: str = "") -> list[str]:
    path = RESULTS / f"pacgan-{kind}{suffix}" / "runs.csv"
    if not path.is_file():
        return [f"| {kind} | (no {path.relative_to(RESULTS.parent)}) | | | | |"]
    runs = [r for r in csv.DictReader(path.open()) if r["status"] == "finished"]
    out = []
    for cell in CELLS:
        rs = [r for r in runs if r["cell"] == cell]
        if not rs:
            continue  # a sweep without this cell (the long reruns have GAN and PacGAN2)
        kl = values(rs, "metrics.eval/reverse_kl/final")
        undefined = len(rs) - len(kl)
        paper = PAPER[kind]["baseline" if cell == "baseline" else "pack"]
        name = "GAN" if cell == "baseline" else "PacGAN" + (cell[-1] if cell[-1].isdigit()
                                                             else str(_m(rs[0])))
        out.append(f"| {kind} | {name} | "
                   f"{len(rs)} | {mean_se(values(rs, 'metrics.eval/modes/final'))} | "
                   f"{mean_se([100 * x for x in values(rs, 'metrics.eval/hq/final')])} | "
                   f"{mean_se(kl)}{f' ({undefined} undefined)' if undefined else ''} | {paper} |")
    return out


def main() -> None:
    print("| data | cell | trials | modes | hq % | reverse KL | paper (modes · hq · KL) |")
    print("|---|---|---|---|---|---|---|")
    suffix = sys.argv[1] if len(sys.argv) > 1 else ""
    for kind in ("ring", "grid"):
        print("\n".join(rows(kind, suffix)))


if __name__ == "__main__":
    sys.exit(main())
