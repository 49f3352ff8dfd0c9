"""The headline of a report: what the primary analysis decided, and why the rest is undecided.

One primary analysis per question, named once:
- "does trick X help?": the `baseline + X` ablation (each trick level against the baseline,
  paired by seed, the exact sign-flip test, Holm over the table's rows); a leave-one-out
  sweep has only `all − X`, which is then primary;
- "which cells are better than which?": the ranks (the same test, Holm over every pair).
The factorial's contrasts are supporting detail; where its Holm family gives another verdict
the report says so beside it (factorial.disagreements). Every sentence here is a statement
about those analyses, and undecided comparisons say why: too few seeds, cells at a floor or
ceiling, a baseline that has not converged, a confound.
"""

from __future__ import annotations

import pandas as pd

from ganbench.metrics.mog import HQ_MIN
from ganbench.report.evalnoise import headline as eval_noise
from ganbench.report.inference import ALPHA, min_p, seeds_needed
from ganbench.report.records import Group

PRIMARY = ("baseline + X", "all − X")


def primary_table(g: Group) -> tuple[str, pd.DataFrame] | None:
    for name in PRIMARY:
        if name in g.ablations:
            return name, g.ablations[name]
    return None


def _size(v: float) -> str:
    return f"{abs(v):.3g}".replace("-", "−")


def _p(p: float) -> str:
    return "< 0.001" if p < 1e-3 else f"{p:.2g}"


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:.3g}, {hi:.3g}]".replace("-", "−")


def _where(r: pd.Series) -> str:
    return f" ({r['context']})" if r.get("context") else ""


def decided(t: pd.DataFrame, metric: str, goal: str) -> list[str]:
    out = []
    for _, r in t[t["significant"]].iterrows():
        better = (r["delta"] > 0) == (goal == "max")
        verb = "raises" if r["delta"] > 0 else "lowers"
        test = (f"decided at {int(r['seq_at'])} paired seeds by the group-sequential test"
                if "seq_at" in r else f"Holm p {_p(r['p_holm'])}, {r['n_pairs']} paired seeds")
        s = (f"**{r['term']}**{_where(r)} {verb} {metric} by {_size(r['delta'])} "
             f"{_ci(r['ci_low'], r['ci_high'])} against {r['reference']} "
             f"({'better' if better else 'worse'}; {test}).")
        if r.get("changes"):
            s += (f" It also changes {r['changes']}: the effect is the level's and these "
                  "changes' together.")
        out.append(s)
    return out


def undecided(t: pd.DataFrame, g: Group, metric: str) -> list[str]:
    rest = t[~t["significant"]]
    if rest.empty:
        return []
    flags = g.ranked.set_index("cell")["spread"].to_dict() if "spread" in g.ranked else {}
    out = []
    for _, r in rest.iterrows():
        why = []
        if "seq_state" in r:  # sequential: the looks decide, not the final data's fixed-n p
            why.append(f"open at max: {r['seq_n']} paired seeds did not cross the "
                       "group-sequential boundary" if r["seq_state"] == "open at max" else
                       f"open: {r['seq_n']} paired seeds so far, the next look at "
                       f"{r['seq_next']} has not been run (rerun the sweep to continue)")
        elif r["p"] != r["p"]:
            why.append("fewer than 2 paired seeds with a value")
        else:
            nz = int(r["n_pairs"] - r.get("n_zero", 0))
            if len(t) * min_p(nz) > ALPHA:
                why.append(f"{nz} paired seed(s) with a nonzero difference cannot reach "
                           f"{ALPHA:g} after Holm over {len(t)} row(s) (at least "
                           f"{seeds_needed(len(t))} are needed)")
        both = [flags.get(c, "") for c in (r["reference"], r["treated"])]
        if all(both) and both[0] == both[1]:
            why.append(f"both cells are at the {both[0]}")
        if r.get("changes"):
            why.append(f"confounded: it also changes {r['changes']}")
        delta = ("Δ " + f"{r['delta']:+.3g} {_ci(r['ci_low'], r['ci_high'])}".replace("-", "−")
                 if r["delta"] == r["delta"] else "no Δ")
        p = ("" if "seq_state" in r else ", Holm p "
             + (_p(r["p_holm"]) if r["p_holm"] == r["p_holm"] else "undefined"))
        out.append(f"{r['term']}{_where(r)}: not decided ({delta}{p})"
                   + (f" — {'; '.join(why)}." if why else "."))
    return out


def rank_sentence(g: Group) -> str:
    r = g.ranked
    pairs = r.attrs.get("pairs")
    n = int(pairs["p"].notna().sum()) if pairs is not None else 0
    ranked = r[r["rank"].notna()]
    if len(ranked) < 2 or n == 0:
        return "Ranks: fewer than two cells have values on 2 common seeds; nothing is ranked."
    sep = int(pairs["significant"].sum())
    if sep == 0:
        out = (f"Ranks: no two cells are separated (paired sign-flip tests, Holm over {n} "
               "pairs): every ranked cell shares rank 1")
        ok = pairs["p"].notna()
        most = int(pairs.loc[ok, "n_pairs"].max())
        if n * min_p(most) > ALPHA:  # no pair could have been separated at all
            out += (f"; no pair can be: {most} paired seeds cannot reach {ALPHA:g} after Holm "
                    f"over {n} pairs (at least {seeds_needed(n)} are needed")
            prim = primary_table(g)
            rows = len(prim[1]) if prim is not None else 0
            if 0 < rows < n and seeds_needed(rows) < seeds_needed(n):
                # only true when the ablation's family is smaller than the pairs'
                out += (f"; the ablation's {rows} row{'s' if rows != 1 else ''} need "
                        f"{seeds_needed(rows)}")
            out += ")"
        return out + "."
    top = list(ranked.loc[ranked["rank"] == 1, "cell"])
    bottom = ranked[ranked["rank"] == ranked["rank"].max()]
    return (f"Ranks: {sep} of {n} pairs of cells are separated (Holm over all pairs); "
            f"rank 1: {', '.join(top)}; last: {', '.join(bottom['cell'])} (rank "
            f"{int(bottom['rank'].iloc[0])}).")


def convergence(g: Group, metric: str) -> list[str]:
    """2-D mixtures: cells whose mean hq is below HQ_MIN have not converged to the data."""
    r = g.ranked
    if "hq_mean" not in r:
        return []
    low = r[r["hq_mean"] < HQ_MIN]
    if low.empty:
        return []
    what = ", ".join(f"{c} ({100 * h:.3g}% hq)" for c, h in zip(low["cell"], low["hq_mean"],
                                                                strict=True))
    every = len(low) == len(r)
    return [(f"{'Every cell' if every else f'{len(low)} cell(s)'} below {100 * HQ_MIN:g}% "
             f"high-quality samples: {what}. Such a cell has not converged to the mixture; "
             "its modes may be noise, and a comparison with it says how far from converged "
             "it is, not which trick works on a converged GAN.")]


def sequential_sentence(name: str, t: pd.DataFrame, g: Group, rule) -> str:
    """How a sequential sweep's seeds were spent and what that makes of the other tests."""
    seeds = g.tidy[g.tidy["status"].isin(("finished", "diverged"))].groupby("cell")["seed"] \
        .nunique()
    per = ", ".join(f"{c} {int(n)}" for c, n in seeds.items())
    return (f"Primary analysis: the `{name}` ablation, with seeds added sequentially (each "
            f"comparison paired by seed; {rule.describe()}; {len(t)} "
            f"row{'s' if len(t) != 1 else ''}). Seeds per cell: {per}. The ranks' and the "
            "factorial's tests below are fixed-n tests of the final data, not adjusted for "
            "the looks: supporting detail only.")


def headline(g: Group, metric: str, goal: str) -> list[str]:
    """The verdict sentences of one protocol group, primary analysis first."""
    out = []
    prim = primary_table(g)
    if prim is not None:
        name, t = prim
        rule = t.attrs.get("sequential")
        if rule is None:
            out.append(f"Primary analysis: the `{name}` ablation (each comparison paired by "
                       f"seed; exact sign-flip test; Holm over its {len(t)} "
                       f"row{'s' if len(t) != 1 else ''} at {ALPHA:g}).")
        else:
            out.append(sequential_sentence(name, t, g, rule))
        dec = decided(t, metric, goal)
        out += dec or ["No trick comparison is decided."]
        out += undecided(t, g, metric)
    out.append(rank_sentence(g))
    vals = g.tidy["value"].dropna()
    if len(vals) and vals.nunique() == 1:
        out.append(f"Every run gave the same {metric} ({vals.iloc[0]:.3g}): nothing can be "
                   "told apart.")
    out += convergence(g, metric)
    if g.noise is not None:  # what the ± are, and whether evaluation noise was measured
        out.append(eval_noise(g.noise, metric))
    return out
