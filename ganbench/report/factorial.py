"""The factorial analysis of a sweep: every effect is a contrast of cell means, computed seed
by seed and tested with the same paired sign-flip test as the ablation rows (report/
inference.py), Holm over the effects. No residual variance is pooled across cells, so cells
with unequal variances (a dead cell with none, a noisy one) do not shrink or widen each
other's intervals. Every printed sentence is true of the contrast that was computed:

- Every combination of levels ran (a full factorial): simple effects (0/1 coding, 0 =
  reference), every interaction up to order k. A main effect is the change from the
  baseline (every other factor at its reference) to that level, seed by seed: exactly the
  ablation's "baseline + X" row. A k-way term is the change beyond all lower-order terms of
  those factors, the others at reference (the alternating sum over the 2^k cells).
- Otherwise (fractional designs, or cells lost): main effects only, each the mean of the
  cells at that level minus the mean of the cells at the reference, seed by seed, i.e.
  averaged over the other factors' levels in the design; every interaction is assumed 0
  (aliased with main effects in a fraction).

A seed enters an effect only where every cell of the contrast has a value for it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ganbench.report.frame import factors_of
from ganbench.report.inference import ALPHA, CONFIDENCE, holm, sign_flip_p, t_ci


@dataclass
class Factorial:
    table: pd.DataFrame  # term, kind, order, estimate, ci_low, ci_high, p, p_holm, significant,
    #                      n_seeds (seeds with every cell of the contrast)
    saturated: bool  # True: full factorial, simple effects, every interaction
    interactions: bool  # any interaction term
    n_used: int  # runs with a value
    n_cells: int
    flat_cells: dict[str, str] = field(default_factory=dict)  # cell -> floor/ceiling/no spread
    notes: list[str] = field(default_factory=list)

    @property
    def coding(self) -> str:
        return "simple" if self.saturated else "averaged"


def _contrast(wide: pd.DataFrame, coef: dict[str, float], bounds, ends) -> dict:
    """Σ coef·cell per seed over the seeds every cell of the contrast has: estimate, interval
    (inside the range such a contrast can take), sign-flip p."""
    cells = list(coef)
    rows = wide[cells].dropna()
    c = rows.to_numpy(dtype=float) @ np.array([coef[k] for k in cells])
    pos = sum(v for v in coef.values() if v > 0)
    clip, end = (bounds[1] - bounds[0]) * pos, (ends[1] - ends[0]) * pos
    lo, hi = (t_ci(c, CONFIDENCE, (-clip, clip), (-end, end)) if len(c) >= 2
              else (math.nan, math.nan))
    return {"estimate": c.mean() if len(c) else math.nan, "ci_low": lo, "ci_high": hi,
            "p": sign_flip_p(c) if len(c) >= 2 else math.nan, "n_seeds": len(c)}


def factorial(t: pd.DataFrame) -> Factorial | None:
    """The contrasts described in the module docstring; None when no factor has runs with a
    value on both its reference and another level."""
    from ganbench.report.stats import clip_bounds, metric_bounds, spread_flags

    data = t[t["value"].notna()]
    factors = factors_of(t)
    if data.empty or not factors:
        return None
    names = [f.name for f in factors]
    cell_of = {tuple(k): c for c, k in zip(data["cell"], data[names].itertuples(index=False),
                                           strict=True)}
    wide = data.pivot_table(index="seed", columns="cell", values="value", aggfunc="first")
    n_full = math.prod(1 + len(f.levels) for f in factors)
    saturated = len(cell_of) == n_full
    bounds, ends = clip_bounds(t), metric_bounds(t)
    notes: list[str] = []
    rows = []
    if saturated:
        ref = {f.name: f.reference for f in factors}
        for order in range(1, len(factors) + 1):
            for combo in itertools.combinations(factors, order):
                for levels in itertools.product(*(f.levels for f in combo)):
                    coef = {}
                    for k in range(order + 1):
                        for on in itertools.combinations(range(order), k):
                            lv = {**ref, **{combo[i].name: levels[i] for i in on}}
                            coef[cell_of[tuple(lv[n] for n in names)]] = (-1.0) ** (order - k)
                    term = " × ".join(f.term(lv) for f, lv in zip(combo, levels, strict=True))
                    rows.append({"term": term, "kind": "main" if order == 1 else "interaction",
                                 "order": order, **_contrast(wide, coef, bounds, ends)})
    else:
        notes.append(f"{len(cell_of)} of the {n_full} level combinations have runs with a "
                     "value (a fraction or lost cells): main effects only, each averaged over "
                     "the other factors' levels in the design; every interaction is assumed 0"
                     + (" (aliased with main effects)" if len(factors) > 1 else ""))
        for f in factors:
            at_ref = [c for k, c in cell_of.items() if k[names.index(f.name)] == f.reference]
            for lv in f.levels:
                at_lv = [c for k, c in cell_of.items() if k[names.index(f.name)] == lv]
                if not at_ref or not at_lv:
                    notes.append(f"{f.term(lv)}: never combined with its reference in runs "
                                 "with a value; not estimable")
                    continue
                coef = {**{c: -1.0 / len(at_ref) for c in at_ref},
                        **{c: 1.0 / len(at_lv) for c in at_lv}}
                rows.append({"term": f.term(lv), "kind": "main", "order": 1,
                             **_contrast(wide, coef, bounds, ends)})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    table["p_holm"], table["significant"] = holm(table["p"], ALPHA)
    table.attrs.update(metric=t.attrs.get("metric"))
    if table["p"].isna().all():
        notes.append("no effect has 2 seeds with a value in every cell of its contrast: no "
                     "intervals, no tests")
    flat = spread_flags(t)
    return Factorial(table, saturated, bool((table["kind"] == "interaction").any()),
                     len(data), data["cell"].nunique(), flat, notes)


def model_sentence(fx: Factorial) -> str:
    """What was computed, said once under the table."""
    if fx.saturated:
        k = int(fx.table["order"].max())
        which = f"every interaction up to order {k}" if k > 1 else "one factor: no interactions"
        return (f"Contrasts of the full factorial ({which}), 0/1 coding (0 = reference), "
                "computed seed by seed: a main effect is the change from the baseline to that "
                "level with every other factor at its reference (the ablation's baseline + X "
                "row, the same test); a k-way term is the change beyond all lower-order terms "
                "of those factors, the others at reference.")
    return ("Main effects only, computed seed by seed: a main effect is the mean of the cells "
            "at that level minus the mean at the reference, averaged over the other factors' "
            "levels in the design.")


def effect_sentences(fx: Factorial, metric: str) -> list[str]:
    """One sentence per significant effect: 'spectral_norm lowers fid by 4.1 [2.3, 5.9] …'."""
    out = []
    where = ("with every other factor at its reference" if fx.saturated
             else "averaged over the other factors")
    for _, r in fx.table[fx.table["significant"]].iterrows():
        verb = "raises" if r["estimate"] > 0 else "lowers"
        lo, hi = sorted((abs(r["ci_low"]), abs(r["ci_high"])))  # significant: 0 is outside
        size = f"{_g(abs(r['estimate']))} [{_g(lo)}, {_g(hi)}]"
        if r["kind"] == "main":
            start = "added to the baseline" if fx.saturated else "turned on"
            out.append(f"{r['term']} {verb} {metric} by {size} when {start} ({where}; "
                       f"Holm p {_p(r['p_holm'])}).")
        else:
            parts = r["term"].split(" × ")
            beyond = ("the sum of their separate effects" if len(parts) == 2
                      else "all lower-order effects of these factors")
            out.append(f"{' with '.join(parts)} {verb} {metric} by a further {size} beyond "
                       f"{beyond} ({where}; Holm p {_p(r['p_holm'])}).")
    return out


def disagreements(fx: Factorial | None, plus: pd.DataFrame | None, context: str = ""
                  ) -> list[str]:
    """Where the 'baseline + X' ablation and the full factorial's main effect (the same
    contrast and test) reach different verdicts: only the Holm family differs; say so."""
    if fx is None or plus is None or not fx.saturated:
        return []
    est = fx.table.set_index("term")
    out = []
    for _, r in plus[plus["context"] == context].iterrows():
        if r["term"] not in est.index or r["p_holm"] != r["p_holm"]:
            continue
        f = est.loc[r["term"]]
        if bool(f["significant"]) == bool(r["significant"]):
            continue
        says = {True: "significant", False: "not significant"}
        out.append(
            f"{r['term']}: the ablation (the primary analysis) calls baseline → "
            f"{r['treated']} {says[bool(r['significant'])]} (Holm p {_p(r['p_holm'])} over "
            f"{len(plus)} rows); the factorial's main effect is the same contrast with the "
            f"same test (p {_p(f['p'])}) but Holm-corrected over all {len(fx.table)} effects "
            f"(Holm p {_p(f['p_holm'])}), so it is {says[bool(f['significant'])]} there.")
    return out


def _g(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


def _p(p: float) -> str:
    if p != p:
        return "undefined"
    return "< 0.001" if p < 1e-3 else f"= {p:.2g}"


__all__ = ["ALPHA", "Factorial", "disagreements", "effect_sentences", "factorial",
           "model_sentence"]
