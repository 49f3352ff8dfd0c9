"""The factorial model of a sweep: OLS (statsmodels) of the metric on factor-level columns,
seed as a block, t-based CIs, Holm over the effects. Every printed sentence is true of the
model that was fitted:

- Every combination of levels ran (a full factorial): the saturated model, all interactions
  up to order k, on 0/1 indicators (0 = reference). A main effect is then exactly the
  change from the baseline (every other factor at its reference) to that level: with
  balanced seeds it equals the observed difference of the two cell means. A two-way term is
  the change beyond the sum of the two simple effects (others at reference), and so on up.
- Otherwise (fractional designs, or cells lost): main effects and, where estimable,
  pairwise interactions, on centred indicators; a main effect is then the level's effect
  averaged over the other factors' levels in the design, and every interaction not in the
  model (order ≥ 3, or pairwise where aliased) is pooled into the residual, i.e. assumed 0.

The residual variance is pooled over all cells: cells at a floor or ceiling (no spread over
seeds) contribute nothing to it and make every interval narrower; they are listed.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from ganbench.report.frame import Factor, factors_of
from ganbench.report.stats import ALPHA, CONFIDENCE, holm, spread_flags


@dataclass
class Factorial:
    table: pd.DataFrame  # term, kind, order, estimate, ci_low, ci_high, p, p_holm, significant
    saturated: bool  # True: full factorial, 0/1 coding, every interaction fitted
    interactions: bool  # any interaction term in the model
    n_used: int
    df_resid: float
    n_cells: int
    flat_cells: dict[str, str] = field(default_factory=dict)  # cell -> floor/ceiling/no spread
    notes: list[str] = field(default_factory=list)

    @property
    def coding(self) -> str:
        return "simple" if self.saturated else "averaged"


def _full_rank(x: pd.DataFrame) -> bool:
    return np.linalg.matrix_rank(x.to_numpy(dtype=float)) == x.shape[1]


def _level_columns(data: pd.DataFrame, factors: list[Factor], notes: list[str]
                   ) -> dict[str, tuple[str, pd.Series]]:
    out = {}
    for f in factors:
        for lv in f.levels:
            col = (data[f.name] == lv).astype(float)
            if 0 < col.sum() < len(col):
                out[f.term(lv)] = (f.name, col)
            else:
                notes.append(f"{f.term(lv)}: no finished runs on both levels; not estimable")
    return out


def _products(mains: dict[str, tuple[str, pd.Series]], order: int, centre: bool,
              notes: list[str] | None) -> dict[str, pd.Series]:
    """Interaction columns of one order: products of level columns of distinct factors."""
    out = {}
    for combo in itertools.combinations(mains.items(), order):
        if len({fac for _, (fac, _) in combo}) < order:
            continue
        raw = np.prod([c for _, (_, c) in combo], axis=0)
        name = " × ".join(k for k, _ in combo)
        if raw.sum() == 0:
            if notes is not None:
                notes.append(f"{name}: never combined in a finished run; not estimable")
            continue
        cols = [c - c.mean() if centre else c for _, (_, c) in combo]
        out[name] = pd.Series(np.prod(cols, axis=0), index=combo[0][1][1].index)
    return out


def factorial(t: pd.DataFrame) -> Factorial | None:
    """The model described in the module docstring; None when not even main effects are
    estimable."""
    data = t[t["value"].notna()].reset_index(drop=True)
    factors = factors_of(t)
    notes: list[str] = []
    mains = _level_columns(data, factors, notes)
    if not mains:
        return None
    names = [f.name for f in factors]
    present = set(data[names].itertuples(index=False, name=None))
    n_full = math.prod(1 + len(f.levels) for f in factors)
    saturated = len(present) == n_full
    const = pd.Series(1.0, index=data.index, name="const")
    blocks = pd.get_dummies(data["seed"], prefix="seed", drop_first=True, dtype=float)
    terms: dict[str, pd.Series] = {}
    if saturated:
        terms = {k: c for k, (_, c) in mains.items()}
        for order in range(2, len(factors) + 1):
            terms.update(_products(mains, order, centre=False, notes=None))
        x = pd.concat([const, pd.DataFrame(terms), blocks], axis=1)
        if not _full_rank(x):
            saturated = False
    if not saturated:
        if n_full > len(present):
            notes.append(f"{len(present)} of the {n_full} level combinations have finished "
                         "runs (a fraction or lost cells): not the saturated model")
        centred = {k: c - c.mean() for k, (_, c) in mains.items()}
        pairs = _products(mains, 2, centre=True, notes=notes)
        x = pd.concat([const, pd.DataFrame(centred), pd.DataFrame(pairs, index=data.index),
                       blocks], axis=1)
        with_pairs = bool(pairs) and _full_rank(x) and len(x) > x.shape[1]
        if with_pairs:
            terms = {**centred, **pairs}
            pooled = "interactions of order ≥ 3" if len(factors) > 2 else ""
        else:
            terms = centred
            x = pd.concat([const, pd.DataFrame(centred), blocks], axis=1)
            if not (_full_rank(x) and len(x) > x.shape[1]):
                return None
            pooled = "every interaction" if len(factors) > 1 else ""
            if pairs:
                notes.append("pairwise interactions are aliased with each other or with main "
                             "effects in these cells")
        if pooled:
            notes.append(f"{pooled} not in the model: pooled into the residual (assumed 0); "
                         "a main effect is averaged over the other factors' levels")
    y = data["value"].to_numpy(dtype=float)
    keys = list(terms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no residual df: handled below
        fit = sm.OLS(y, x).fit()
        ci = fit.conf_int(alpha=1 - CONFIDENCE)
        pvalues = fit.pvalues
    table = pd.DataFrame({
        "term": keys,
        "kind": ["main" if k in mains else "interaction" for k in keys],
        "order": [k.count(" × ") + 1 for k in keys],
        "estimate": [fit.params[k] for k in keys],
        "ci_low": [ci.loc[k, 0] for k in keys], "ci_high": [ci.loc[k, 1] for k in keys],
        "p": [pvalues[k] for k in keys],
    })
    if fit.df_resid < 1:
        table[["ci_low", "ci_high", "p"]] = math.nan
        notes.append("no residual degrees of freedom left (too few runs per cell): no "
                     "intervals, no tests")
    elif fit.mse_resid <= 1e-12 * max(float(np.var(y)), 1e-300):
        table["p"] = math.nan  # a perfect fit: no noise left to test against
        notes.append("the model fits the runs exactly: no residual variation, tests undefined")
    table["p_holm"], table["significant"] = holm(table["p"])
    table.attrs.update(metric=t.attrs.get("metric"))
    flat = spread_flags(t)
    n_cells = data["cell"].nunique()
    if flat:
        kinds = ", ".join(f"{k}: {', '.join(c for c, v in flat.items() if v == k)}"
                          for k in ("floor", "ceiling", "no spread") if k in flat.values())
        notes.append(f"{len(flat)} of {n_cells} cells have no spread over seeds ({kinds}); "
                     "they add nothing to the pooled residual variance, so every interval "
                     "and test here is narrower than those cells' own uncertainty")
    return Factorial(table, saturated, bool((table["kind"] == "interaction").any()),
                     len(data), float(fit.df_resid), n_cells, flat, notes)


def model_sentence(fx: Factorial) -> str:
    """What was fitted, said once under the table."""
    if fx.saturated:
        k = int(fx.table["order"].max())
        which = f"every interaction up to order {k}" if k > 1 else "one factor: no interactions"
        return (f"Saturated model of the full factorial ({which}) on 0/1 indicators "
                "(0 = reference), seed as "
                "a block: a main effect is the change from the baseline to that level with "
                "every other factor at its reference (with balanced seeds: the observed "
                "difference of the two cell means); a k-way term is the change beyond all "
                "lower-order terms of those factors, the others at reference.")
    return ("Main effects" + (" and pairwise interactions" if fx.interactions else "")
            + " on centred indicators, seed as a block: a main effect is the level's effect "
            "averaged over the other factors' levels in the design.")


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
    """Where the 'baseline + X' ablation and the saturated factorial judge the same
    comparison (baseline → X) differently, say why."""
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
        flat = (f"; {len(fx.flat_cells)} of those cells have no spread, which shrinks it"
                if fx.flat_cells else "")
        out.append(
            f"{r['term']}: the ablation calls baseline → {r['treated']} "
            f"{says[bool(r['significant'])]} (Holm p {_p(r['p_holm'])}), the factorial "
            f"{says[bool(f['significant'])]} (Holm p {_p(f['p_holm'])}). Same comparison, "
            f"different tests: the ablation uses only these two cells' {r['n_pairs']} paired "
            f"seeds and no normality (smallest attainable p {r['p_min']:.3g}); the factorial "
            f"tests against a normal-error residual variance pooled over all {fx.n_cells} "
            f"cells ({fx.df_resid:g} df){flat}, and Holm-corrects over {len(fx.table)} "
            f"effects instead of {len(plus)} rows.")
    return out


def _g(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


def _p(p: float) -> str:
    if p != p:
        return "undefined"
    return "< 0.001" if p < 1e-3 else f"= {p:.2g}"


__all__ = ["ALPHA", "Factorial", "disagreements", "effect_sentences", "factorial",
           "model_sentence"]
