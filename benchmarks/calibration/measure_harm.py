"""Measure planted_noise's harm directly, and set it beside the report's estimate.

calibration-planted's planted cells train exactly as its baseline (planted_noise only adds
noise to the evaluated generator), so the harm of std s on a seed is what noise of std s does
to that seed's trained baseline generator. This script loads each baseline run's saved
generator from the sweep's MLflow store, draws --samples fresh points, and scores them with
and without noise it draws itself (--draws times, averaged): the expected harm per seed, with
none of the trick's or the report's code on the path. It then reads the same runs through the
report's analysis and prints the ablation's estimate and 95% interval for each std beside the
measured mean harm over the same seeds, and whether the interval covers it.

    PYTHONPATH=$PWD python benchmarks/calibration/measure_harm.py [--results results]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch

import ganbench
from ganbench.data import DATASETS
from ganbench.metrics import mode_metrics


def measured(results: Path, sweep: str, samples: int, draws: int) -> pd.DataFrame:
    runs = pd.read_csv(results / sweep / "runs.csv")
    base = runs[(runs["cell"] == "baseline") & (runs["status"] == "finished")]
    stds = sorted({float(v) for v in runs.get("planted_noise.std", pd.Series()).dropna()})
    if not stds:
        import yaml

        levels = yaml.safe_load((results / sweep / "spec.yaml").read_text())["tricks"]
        stds = [lv["std"] for lv in levels["planted_noise"] if isinstance(lv, dict)]
    data = DATASETS.get("ring8")(None)
    uri = f"sqlite:///{(results / 'mlflow.db').resolve()}"
    rows = []
    for _, r in base.sort_values("seed").iterrows():
        g, cfg = ganbench.load_generator(r["run_id"], tracking_uri=uri)
        gen = torch.Generator().manual_seed(20_261_207 + int(r["seed"]))
        with torch.no_grad():
            x = g(torch.randn(samples, cfg.z_dim, generator=gen))
            clean = mode_metrics(x, data.modes, data.mode_std)["hq"]
            row = {"seed": int(r["seed"]), "hq": clean}
            for s in stds:
                noisy = [mode_metrics(x + s * torch.randn(x.shape, generator=gen), data.modes,
                                      data.mode_std)["hq"] for _ in range(draws)]
                row[s] = sum(noisy) / draws - clean  # Δ hq = noisy − clean (a harm: < 0)
        rows.append(row)
    return pd.DataFrame(rows)


def estimated(results: Path, sweep: str) -> pd.DataFrame:
    """The report's ablation rows (baseline + X), read and analysed as `ganbench report`
    does, without writing any file."""
    from ganbench.report.build import analyse, read_store
    from ganbench.store.mlflow import MLflowStore

    store = MLflowStore(f"sqlite:///{(results / 'mlflow.db').resolve()}")
    with tempfile.TemporaryDirectory() as tmp:
        rep = analyse(read_store(store, sweep, Path(tmp)), "measure_harm", "")
    tables = [t for g in rep.groups for t in g.ablations.values() if len(t)]
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--sweep", default="calibration-planted")
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--draws", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    m = measured(args.results, args.sweep, args.samples, args.draws)
    stds = [c for c in m.columns if isinstance(c, float)]
    print("Measured Δ hq (noisy − clean) per seed, on the sweep's baseline generators "
          f"({args.samples:,} samples, mean of {args.draws} noise draws):\n")
    print("| seed | hq clean | " + " | ".join(f"Δ hq, std {s:g}" for s in stds) + " |")
    print("|---|---|" + "---|" * len(stds))
    for _, r in m.iterrows():
        print(f"| {int(r['seed'])} | {r['hq']:.4f} | "
              + " | ".join(f"{r[s]:+.4f}" for s in stds) + " |")
    est = estimated(args.results, args.sweep)
    print("\n| std | measured mean Δ hq | report: Δ hq [95% CI] | Holm p | covered? |")
    print("|---|---|---|---|---|")
    for s in stds:
        row = est[est["treated"].astype(str).str.contains(f"{s:g}")]
        mean = float(m[s].mean())
        if row.empty:
            print(f"| {s:g} | {mean:+.4f} | (no ablation row found) | | |")
            continue
        r = row.iloc[0]
        covered = r["ci_low"] <= mean <= r["ci_high"]
        print(f"| {s:g} | {mean:+.4f} | {r['delta']:+.4f} [{r['ci_low']:+.4f}, "
              f"{r['ci_high']:+.4f}] | {r['p_holm']:.3g} | {'yes' if covered else 'NO'} |")


if __name__ == "__main__":
    main()
