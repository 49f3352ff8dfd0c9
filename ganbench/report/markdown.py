"""The report as GitHub-renderable Markdown: tables from report/stats.py, plots embedded."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ganbench.report.build import Report

from ganbench.report.stats import ALPHA, NO_VARIANCE


def num(v, digits: int = 3) -> str:
    """3 significant digits; '—' for missing; a true minus sign."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (int, float)):
        return f"{v:.{digits}g}".replace("-", "−")
    return str(v)


def ci(lo, hi) -> str:
    return "—" if lo != lo or hi != hi else f"[{num(lo)}, {num(hi)}]"


def pval(p) -> str:
    if p != p:
        return "—"
    return "<0.001" if p < 1e-3 else f"{p:.2g}"


def rank_label(r: pd.Series) -> str:
    if r["rank"] != r["rank"]:
        return "—"
    return f"={int(r['rank'])}" if r["tied"] else str(int(r["rank"]))


def _table(head: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc])


def ranked_md(t: pd.DataFrame, metric: str) -> str:
    rows = [[rank_label(r), r["cell"], f"{num(r['mean'])} ± {num(r['std'])}",
             ci(r["ci_low"], r["ci_high"]), str(r["n_finished"]),
             f"{r['n_diverged']} ({num(100 * r['failure_rate'], 2)}%)", str(r["n_failed"])]
            for _, r in t.iterrows()]
    return _table(["rank", "cell", f"{metric} mean ± std", "95% CI (bootstrap)", "finished",
                   "diverged (rate)", "failed"], rows)


def ablation_md(t: pd.DataFrame, metric: str) -> str:
    context = t["context"].astype(bool).any()
    rows = []
    for _, r in t.iterrows():
        row = [r["term"], f"{r['reference']} → {r['treated']}", num(r["delta"]),
               ci(r["ci_low"], r["ci_high"]), pval(r["p"]), pval(r["p_holm"]),
               "*" if r["significant"] else "", str(r["n_pairs"]), r["test"],
               f"{r['ref_diverged']}/{r['ref_n']} → {r['trt_diverged']}/{r['trt_n']}"]
        rows.append(([r["context"]] if context else []) + row)
    head = ["trick", "cells", f"Δ {metric}", "95% CI", "p", "Holm p", "sig.", "pairs",
            "test", "diverged"]
    return _table((["setting"] if context else []) + head, rows)


def factorial_md(t: pd.DataFrame) -> str:
    rows = [[r["term"], r["kind"], num(r["estimate"]), ci(r["ci_low"], r["ci_high"]),
             pval(r["p"]), pval(r["p_holm"]), "*" if r["significant"] else ""]
            for _, r in t.iterrows()]
    return _table(["effect", "kind", "estimate", "95% CI", "p", "Holm p", "sig."], rows)


def document(rep: Report) -> str:
    goal = "higher" if rep.goal == "max" else "lower"
    out = [f"# Sweep `{rep.name}`: report", "",
           f"Metric: final `{rep.metric}` ({goal} is better). Design `{rep.design}`; "
           f"{rep.n_cells} cells, seeds {rep.seeds}; {rep.n_runs} runs read from the MLflow "
           f"store `{rep.store}`. Every run is listed in [runs.csv](runs.csv).", ""]
    if len(rep.groups) > 1:
        out += [f"Runs measured `{rep.metric}` under {len(rep.groups)} different protocols "
                f"(`{rep.protocol_column}`). Values under different protocols are not "
                "comparable, so every table below is split by protocol and never ranks "
                "them together.", ""]
    for g in rep.groups:
        h = "##"
        if len(rep.groups) > 1:
            out += [f"## Protocol `{g.protocol}`", ""]
            h = "###"
        out += [f"{h} Ranked cells", "", ranked_md(g.ranked, rep.metric), "",
                "Mean ± std over finished seeds; 95% BCa bootstrap CI of the mean. Rank = 1 + "
                "the number of cells whose CI lies entirely on the better side, so cells "
                "whose CIs overlap share a rank (shown `=k`). Diverged runs are results: "
                "counted (rate = diverged / (finished + diverged)), never averaged in; "
                "failed = killed or errored.", ""]
        for name, t in g.ablations.items():
            what = ("each trick alone vs no trick" if name == "baseline + X"
                    else "every trick vs every trick but X")
            out += [f"{h} Ablation: {name} ({what})", "", ablation_md(t, rep.metric), ""]
        if g.ablations:
            out += [f"Δ = treated − reference, paired by seed over seeds where both "
                    f"finished; test: paired t-test (its 95% CI), or the exact sign-flip "
                    f"test when all paired differences are equal (`{NO_VARIANCE}`). "
                    f"p-values Holm-corrected over the rows of each table; * = Holm p < "
                    f"{ALPHA}. Diverged: diverged/runs in reference → treated cell.", ""]
        if g.factorial is not None:
            fx = g.factorial
            coding = ("main effects and pairwise interactions; a main effect is the change "
                      "from turning that factor on in the baseline, an interaction the change "
                      "beyond the sum of the two main effects" if fx.interactions else
                      "main effects only, each averaged over the other factors")
            out += [f"{h} Factorial analysis", "", factorial_md(fx.table), "",
                    f"OLS on 0/1 factor indicators with seed as a block ({coding}); "
                    f"{fx.n_used} finished runs, {fx.df_resid:g} residual df; t-based 95% CIs; "
                    f"p-values Holm-corrected over the {len(fx.table)} effects.", ""]
            out += [f"- {n}" for n in fx.notes] + ([""] if fx.notes else [])
            out += ([f"- {s}" for s in g.sentences]
                    or ["No effect is significant after correction."]) + [""]
        for title, file in g.plots:
            out += [f"{h} {title}", "", f"![{title}]({file})", ""]
    out += [f"_{n}_" for n in rep.notes] + ([""] if rep.notes else [])
    out += [f"Produced by: `{rep.command}`", ""]
    return "\n".join(out)
