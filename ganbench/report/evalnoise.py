"""Evaluation noise beside seed-to-seed noise (issue 30), per cell, for the ranked metric.

Pure functions of the tidy runs table (frame.py): `eval_draws` (how many evaluation draws a
run's final generator was scored with; 1 for runs recorded before eval_repeats existed) and
`eval_sd` (the sd of the metric over those draws; NaN where not measured). A run's recorded
value is its first draw, so every mean, ± and interval elsewhere in the report is built from
seed-to-seed (training) variation, each run's single draw of evaluation noise included; the
published "±" of one run is usually evaluation noise, which this puts beside it.
"""

from __future__ import annotations

import math

import pandas as pd

MAX_FLAGS = 10  # pairs named in the sentence; the rest are counted


def _fmt(v: float) -> str:
    return f"{v:.3g}".replace("-", "−")


def cell_noise(t: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (table order): cell, n (finished runs with a value), draws (the most
    evaluation draws any of them had), n_eval (runs with an evaluation sd), eval_sd (their
    mean), mean and seed_sd (the sd over seeds of the recorded values, as the ranked table's
    std)."""
    rows = []
    for cell in dict.fromkeys(t["cell"]):
        g = t[(t["cell"] == cell) & t["value"].notna()]
        draws = g["eval_draws"] if "eval_draws" in g else pd.Series(1, index=g.index)
        sd = (g["eval_sd"] if "eval_sd" in g else pd.Series(math.nan, index=g.index)).dropna()
        rows.append({"cell": cell, "n": len(g), "draws": int(draws.max()) if len(g) else 1,
                     "n_eval": len(sd), "eval_sd": float(sd.mean()) if len(sd) else math.nan,
                     "mean": float(g["value"].mean()) if len(g) else math.nan,
                     "seed_sd": float(g["value"].std(ddof=1)) if len(g) > 1 else math.nan})
    return pd.DataFrame(rows, columns=["cell", "n", "draws", "n_eval", "eval_sd", "mean",
                                       "seed_sd"])


def measured(noise: pd.DataFrame) -> bool:
    return bool(noise["eval_sd"].notna().any())


def within_eval_noise(noise: pd.DataFrame) -> list[tuple[str, str, float, float]]:
    """Pairs of cells whose means differ by less than one evaluation sd (the larger of the
    two cells' mean eval sd): (cell a, cell b, |Δ mean|, that eval sd), table order. A pair
    where either cell has no evaluation sd is not judged."""
    ok = noise[noise["eval_sd"].notna() & noise["mean"].notna()].reset_index(drop=True)
    out = []
    for i in range(len(ok)):
        for j in range(i + 1, len(ok)):
            a, b = ok.iloc[i], ok.iloc[j]
            diff, bound = abs(a["mean"] - b["mean"]), max(a["eval_sd"], b["eval_sd"])
            if diff < bound:
                out.append((a["cell"], b["cell"], float(diff), float(bound)))
    return out


PLUS_MINUS = ("Every ± in this report is a seed-to-seed sd (over the finished seeds of a "
              "cell) and every interval is built from seed-to-seed variation; neither is "
              "evaluation noise.")


def headline(noise: pd.DataFrame, metric: str) -> str:
    """One verdict sentence: whether evaluation noise was measured, and beside what."""
    if not measured(noise):
        return (f"Evaluation noise of `{metric}` was not measured ({_why_not(noise)}); every "
                "± here is seed-to-seed.")
    ok = noise[noise["eval_sd"].notna()]
    flags = within_eval_noise(noise)
    seed = ok["seed_sd"].dropna()
    return (f"Evaluation noise of `{metric}` (up to {int(ok['draws'].max())} draws per run): "
            f"eval sd {_fmt(ok['eval_sd'].mean())} against seed sd "
            + (_fmt(seed.mean()) if len(seed) else "undefined (one seed)")
            + f" (means over {len(ok)} cell{'s' if len(ok) != 1 else ''}); "
            + (f"{len(flags)} pair(s) of cells differ by less than one evaluation sd."
               if flags else "no two cells differ by less than one evaluation sd."))


def _why_not(noise: pd.DataFrame) -> str:
    most = int(noise["draws"].max()) if len(noise) else 1
    if most <= 1:
        return "each run's final generator was scored with one draw of latent samples, " \
               "eval_repeats: 1"
    return (f"runs were scored with up to {most} draws, but none recorded a spread: the "
            "metric does not depend on the draw (a dataset with its own scorer) or was "
            "defined in fewer than two draws")


def sentences(noise: pd.DataFrame, metric: str) -> list[str]:
    """The section's text (plain; markdown.py formats it): what was measured, what the ±
    show, and the pairs of cells closer than evaluation noise."""
    if not measured(noise):
        return [f"Evaluation noise was not measured: {_why_not(noise)}. " + PLUS_MINUS
                + " Each run's value carries one draw's evaluation noise, which the seed sd "
                "includes; set `eval_repeats: k` (k ≥ 2) in the sweep's base to measure it "
                "beside the seed sd."]
    out = [f"Each run's final generator was scored with k draws of fresh latent samples "
           f"(`eval_repeats`; k per cell in the table). eval sd = the sd of `{metric}` over "
           "one run's draws, averaged over the cell's finished runs that have one; seed sd = "
           f"the sd over seeds of the recorded `{metric}`, which is the first draw (also the "
           "value in every other table). " + PLUS_MINUS + " The seed sd includes one draw's "
           "evaluation noise."]
    missing = noise[noise["eval_sd"].isna() & (noise["n"] > 0)]
    if len(missing):
        out.append(f"Not measured in {len(missing)} cell(s) ({', '.join(missing['cell'])}): "
                   "their runs had one draw, or no spread was recorded.")
    flags = within_eval_noise(noise)
    if not flags:
        out.append("No two cells' mean values differ by less than one evaluation sd (the "
                   "larger of the two cells').")
        return out
    named = "; ".join(f"{a} vs {b} (|Δ| {_fmt(d)} < eval sd {_fmt(s)})"
                      for a, b, d, s in flags[:MAX_FLAGS])
    more = f"; and {len(flags) - MAX_FLAGS} more" if len(flags) > MAX_FLAGS else ""
    out.append(f"Flagged: {len(flags)} pair(s) of cells whose mean values differ by less "
               "than one evaluation sd (the larger of the two cells'), so one evaluation "
               f"draw can move a run by more than the cells differ: {named}{more}.")
    return out
