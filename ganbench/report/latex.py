"""The report's tables as LaTeX (booktabs), ready to paste: one `table` float each, the best
mean bold in the ranked table, significant effects bold in the effect tables.

Needs only `\\usepackage{booktabs}`; labels are escaped, non-ASCII text becomes math symbols.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import pandas as pd

from ganbench.report.markdown import pval, rank_label
from ganbench.report.stats import NO_VARIANCE

if TYPE_CHECKING:
    from ganbench.report.build import Report

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "·": r"$\cdot$", "−": r"$-$", "×": r"$\times$",
            "±": r"$\pm$", "Δ": r"$\Delta$", "→": r"$\to$", "<": r"$<$", ">": r"$>$"}


def escape(text: str) -> str:
    """Plain text -> LaTeX text; characters pdflatex cannot typeset become '?'."""
    return "".join(_SPECIAL.get(ch, ch if ch.isascii() else "?") for ch in str(text))


def num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    return f"{v:.{digits}g}".replace("-", "$-$")


def _ci(lo, hi) -> str:
    return "--" if lo != lo or hi != hi else f"[{num(lo)}, {num(hi)}]"


def _bold(text: str, on: bool) -> str:
    return rf"\textbf{{{text}}}" if on else text


def _float(caption: str, label: str, align: str, head: list[str], rows: list[list[str]]) -> str:
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}",
             rf"\label{{{label}}}", r"\small", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(head) + r" \\", r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def ranked_tex(t: pd.DataFrame, metric: str, goal: str, label: str, protocol: str) -> str:
    best = t["mean"].max() if goal == "max" else t["mean"].min()
    rows = [[escape(rank_label(r)), escape(r["cell"]),
             _bold(f"{num(r['mean'])} $\\pm$ {num(r['std'])}", r["mean"] == best),
             _ci(r["ci_low"], r["ci_high"]), str(r["n_finished"]), str(r["n_diverged"]),
             str(r["n_failed"])] for _, r in t.iterrows()]
    where = f" (protocol {escape(protocol)})" if protocol else ""
    cap = (f"Cells ranked by final {escape(metric)}{where} "
           f"({'higher' if goal == 'max' else 'lower'} is better): mean $\\pm$ std over "
           "finished seeds, 95\\% bootstrap CI; cells whose CIs overlap share a rank (=). "
           "Best mean in bold.")
    head = ["Rank", "Cell", f"{escape(metric)}", "95\\% CI", "Fin.", "Div.", "Fail."]
    return _float(cap, label, "llrrrrr", head, rows)


def ablation_tex(t: pd.DataFrame, metric: str, name: str, label: str, protocol: str) -> str:
    ctx = t["context"].astype(bool).any()
    rows = [([escape(r["context"])] if ctx else []) +
            [escape(r["term"]), _bold(num(r["delta"]), bool(r["significant"])),
             _ci(r["ci_low"], r["ci_high"]),
             escape(pval(r["p_holm"])) + (r"$^\dagger$" if r["test"] == NO_VARIANCE else ""),
             str(r["n_pairs"]),
             f"{r['ref_diverged']}/{r['ref_n']} $\\to$ {r['trt_diverged']}/{r['trt_n']}"]
            for _, r in t.iterrows()]
    where = f", protocol {escape(protocol)}" if protocol else ""
    cap = (f"Ablation {escape(name)}{where}: $\\Delta$ {escape(metric)} = treated $-$ "
           "reference, paired by seed; paired $t$-test ($^\\dagger$: exact sign-flip test, "
           "all paired differences equal), Holm-corrected $p$; significant effects in bold; "
           "diverged runs per cell.")
    head = (["Setting"] if ctx else []) + ["Trick", f"$\\Delta$ {escape(metric)}", "95\\% CI",
                                             "Holm $p$", "Pairs", "Diverged"]
    return _float(cap, label, ("l" if ctx else "") + "lrrrrr", head, rows)


def factorial_tex(t: pd.DataFrame, metric: str, label: str, protocol: str,
                  interactions: bool) -> str:
    rows = [[escape(r["term"]), _bold(num(r["estimate"]), bool(r["significant"])),
             _ci(r["ci_low"], r["ci_high"]), escape(pval(r["p_holm"]))]
            for _, r in t.iterrows()]
    where = f", protocol {escape(protocol)}" if protocol else ""
    model = "main effects and pairwise interactions" if interactions else "main effects"
    cap = (f"Factorial analysis of {escape(metric)}{where}: OLS on 0/1 trick indicators "
           f"({model}) with seed as a block; 95\\% CIs, Holm-corrected $p$; significant "
           "effects in bold.")
    return _float(cap, label, "lrrr", ["Effect", "Estimate", "95\\% CI", "Holm $p$"], rows)


def document(rep: Report) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", rep.name).strip("-")
    out = [f"% ganbench report for sweep {escape(rep.name)}; needs \\usepackage{{booktabs}}",
           f"% produced by: {rep.command}", ""]
    for i, g in enumerate(rep.groups):
        sfx = f"-{i + 1}" if len(rep.groups) > 1 else ""
        out.append(ranked_tex(g.ranked, rep.metric, rep.goal, f"tab:{slug}-ranked{sfx}",
                              g.protocol))
        for name, t in g.ablations.items():
            kind = "plus" if name.startswith("baseline") else "minus"
            out.append(ablation_tex(t, rep.metric, name, f"tab:{slug}-{kind}{sfx}", g.protocol))
        if g.factorial is not None:
            out.append(factorial_tex(g.factorial.table, rep.metric, f"tab:{slug}-factorial{sfx}",
                                     g.protocol, g.factorial.interactions))
    return "\n".join(out)
