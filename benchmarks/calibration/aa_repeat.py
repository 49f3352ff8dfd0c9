"""Repeat the A/A sweep (aa.yaml) with several base seeds and count spurious findings.

Each repeat k runs aa.yaml as sweep `calibration-aa-rK` with seeds [8k, ..., 8k+7] (tiny runs
by default: --steps 500), then reads its results/<name>/summary.csv. A repeat is spurious
when the report separates the two identical cells: their ranks differ (a rank separation,
which the report gives only for a significant difference) or the aa_null row's interval
excludes the baseline's mean. With a 5% family-wise rate, about 1 in 20 repeats may be.

    PYTHONPATH=$PWD python benchmarks/calibration/aa_repeat.py [--repeats 5] [--steps 500]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).parent


def run_repeat(k: int, steps: int, results: Path, workers: int) -> dict[str, dict[str, str]]:
    spec = yaml.safe_load((HERE / "aa.yaml").read_text())
    spec["name"] = f"calibration-aa-r{k}"
    spec["seeds"] = list(range(8 * k, 8 * k + 8))
    spec["base"].update(steps=steps, eval_every=steps, log_every=min(250, steps))
    spec["plugins"] = [str((HERE / "calibration_tricks.py").resolve())]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(spec, f)
    subprocess.run([sys.executable, "-m", "ganbench", "sweep", f.name, "--workers",
                    str(workers), "--results", str(results)], check=True)
    with open(results / spec["name"] / "summary.csv") as fh:
        return {row["cell"]: row for row in csv.DictReader(fh)}


def spurious(rows: dict[str, dict[str, str]]) -> tuple[bool, bool]:
    """(ranks separate the identical cells, aa_null's interval excludes the baseline mean)."""
    a, b = rows["baseline"], rows["aa_null"]
    ranks = a.get("rank") != b.get("rank")
    try:
        lo, hi, m = float(b["ci_low"]), float(b["ci_high"]), float(a["mean"])
        excludes = not lo <= m <= hi
    except (KeyError, ValueError):
        excludes = False
    return ranks, excludes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=Path("results/calibration-aa-repeat"))
    args = ap.parse_args()
    n_rank = n_ci = 0
    for k in range(args.repeats):
        r, c = spurious(run_repeat(k, args.steps, args.results, args.workers))
        n_rank, n_ci = n_rank + r, n_ci + c
        print(f"repeat {k}: rank separation {r}, interval excludes baseline {c}")
    print(f"{args.repeats} A/A repeats: {n_rank} rank separations, {n_ci} intervals that "
          "exclude the baseline mean (each expected in ~5% of repeats)")


if __name__ == "__main__":
    main()
