"""Repeat the A/A sweep (aa.yaml) on fresh seeds and count spurious findings end to end.

By default one sweep, `calibration-aa-blocksR`, trains aa.yaml's baseline and re-initialised
twin (the informative pair: `on` is an exact twin whose zero differences can never be
significant; --with-twin keeps it) on seeds 0 .. 8R-1 through `ganbench.sweep` (shorter runs,
--steps 300), then reads the runs back from the store as `ganbench report` does and analyses
each block of 8 seeds [8k, 8k+7] as one A/A sweep, with the report's own analysis (verdict,
ablation, factorial, ranks). One sweep for all R repeats spares R sweeps' start-up and report
writing; --separate runs R separate sweeps instead (slower, the same analysis). Every cell
trains the same way, so every finding is spurious. Per repeat:

- rows: ablation rows called significant (Holm within each ablation table, 0.05),
- factorial: factorial effects called significant (Holm over its effects),
- ranks: whether the ranks separate any two cells (Holm over every pair),
- headline: whether the verdict says anything but "No trick comparison is decided".

Each is a family-wise error (any spurious finding in the sweep), nominally at most 5% a sweep;
the script prints the counts and a 95% Clopper-Pearson interval for each rate, and writes
them to --out as Markdown.

    PYTHONPATH=$PWD python benchmarks/calibration/aa_repeat.py [--repeats 40] [--steps 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import yaml
from scipy.stats import beta

import ganbench

HERE = Path(__file__).parent
DECIDED_NOTHING = "No trick comparison is decided."


def spec_for(k: int, steps: int, twin: bool = False, blocks: int = 0, name: str = "") -> dict:
    """Repeat k's sweep (seeds 8k .. 8k+7), or with `blocks` one sweep of 8 * blocks seeds."""
    spec = yaml.safe_load((HERE / "aa.yaml").read_text())
    if not twin:
        spec["tricks"]["aa_null"] = ["off", {"reinit": True}]
    if blocks:
        spec["name"] = name or f"calibration-aa-blocks{blocks}"
        spec["seeds"] = list(range(8 * blocks))
    else:
        spec["name"], spec["seeds"] = f"calibration-aa-r{k}", list(range(8 * k, 8 * k + 8))
    spec["base"].update(steps=steps, eval_every=steps, log_every=min(100, steps))
    spec["plugins"] = [str((HERE / "calibration_tricks.py").resolve())]
    return spec


def findings(rep) -> dict[str, int]:
    """Spurious findings in one A/A report (each cell trains alike: every one is false)."""
    rows = fx = 0
    separated = headline = False
    for g in rep.groups:
        rows += sum(int(t["significant"].sum()) for t in g.ablations.values() if len(t))
        if g.factorial is not None and not g.factorial.table.empty:
            fx += int(g.factorial.table["significant"].sum())
        separated |= g.ranked["rank"].nunique() > 1
        headline |= not any(DECIDED_NOTHING in line for line in g.headline)
    return {"rows": rows, "factorial": fx, "ranks": int(separated), "headline": int(headline)}


def block_reports(results: Path, name: str, repeats: int) -> list:
    """Each block of 8 seeds of the one sweep, analysed by the report's own code."""
    from ganbench.report.build import analyse, read_store
    from ganbench.store.mlflow import MLflowStore

    store = MLflowStore(f"sqlite:///{(results / 'mlflow.db').resolve()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = read_store(store, name, Path(tmp))
    seed = data.runs["params.seed"].astype(int)
    out = []
    for k in range(repeats):
        block = list(range(8 * k, 8 * k + 8))
        part = dataclasses.replace(data, runs=data.runs[seed.isin(block)], seeds=block)
        out.append(analyse(part, "aa_repeat", ""))
    return out


def cp(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval for k events in n."""
    lo = beta.ppf(0.025, k, n - k + 1) if k else 0.0
    hi = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return float(lo), float(hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--separate", action="store_true", help="one sweep per repeat")
    ap.add_argument("--name", default="", help="the one sweep's name (default: "
                    "calibration-aa-blocksR); naming an earlier one grows it by seeds, so "
                    "its finished runs are kept")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--with-twin", action="store_true", help="keep aa.yaml's exact twin cell")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=Path("runs/calibration-aa-repeat"))
    ap.add_argument("--out", type=Path, default=None, help="write the rates here (Markdown)")
    args = ap.parse_args()
    per: list[dict[str, int]] = []
    t0 = time.perf_counter()
    if args.separate:
        reps = [ganbench.sweep(spec_for(k, args.steps, args.with_twin), workers=args.workers,
                               results=args.results) for k in range(args.repeats)]
    else:
        name = args.name or f"calibration-aa-blocks{args.repeats}"
        ganbench.sweep(spec_for(0, args.steps, args.with_twin, args.repeats, name),
                       workers=args.workers, results=args.results)
        reps = block_reports(args.results, name, args.repeats)
    for k, rep in enumerate(reps):
        per.append(findings(rep))
        print(f"repeat {k} (seeds {8 * k}-{8 * k + 7}): {per[-1]}", flush=True)
    n = len(per)
    cells = 3 if args.with_twin else 2
    how = "separate sweeps" if args.separate else "blocks of 8 seeds of one sweep"
    lines = [f"{n} A/A repeats ({how}; aa.yaml at {args.steps} steps, {cells} equal cells x 8 "
             f"seeds, seeds 0-{8 * n - 1}), {time.perf_counter() - t0:.0f} s:", "",
             "| spurious finding (any in a sweep) | sweeps | rate | 95% interval | nominal |",
             "|---|---|---|---|---|"]
    what = {"rows": "an ablation row significant", "factorial": "a factorial effect significant",
            "ranks": "two cells ranked apart", "headline": "a headline that decides something"}
    for key, words in what.items():
        k = sum(1 for p in per if p[key])
        lo, hi = cp(k, n)
        lines.append(f"| {words} | {k}/{n} | {k / n:.0%} | [{lo:.0%}, {hi:.0%}] | ≤ 5% |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
