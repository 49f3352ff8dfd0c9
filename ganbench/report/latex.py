"""The report's tables as LaTeX (booktabs), ready to paste: one `table` float each, the best
mean bold in the ranked table, significant effects bold in the effect tables.

Needs only `\\usepackage{booktabs}`; labels are escaped, non-ASCII text becomes math symbols.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import pandas as pd

from ganbench.report.markdown import (
    across_sentences,
    cell_label,
    companion,
    cost_num,
    factorial_note,
    kind,
    pval,
    rank_label,
)
from ganbench.report.notes import (
    COMPANION_LABELS,
    COST_LABELS,
    cost_note,
    ranking_rule,
    table_note,
)

if TYPE_CHECKING:
    from ganbench.report.records import Report

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "·": r"$\cdot$", "−": r"$-$", "×": r"$\times$",
            "±": r"$\pm$", "Δ": r"$\Delta$", "→": r"$\to$", "<": r"$<$", ">": r"$>$",
            "≥": r"$\geq$", "≤": r"$\leq$", "√": r"$\surd$", "|": r"$|$", "`": "",
            "—": "--", "–": "--", "‖": r"$\|$"}


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


def ranked_tex(t: pd.DataFrame, metric: str, goal: str, label: str, protocol: str,
               stacked: int = 1, published: list[str] | None = None) -> str:
    comps, costs = t.attrs.get("companions", []), t.attrs.get("costs", [])
    # Bold marks a winner: only a cell ranked first alone (cells sharing rank 1 are tied).
    alone = int((t["rank"] == 1).sum()) == 1 if len(t) > 1 else False
    rows = [[escape(rank_label(r)), escape(cell_label(r)),
             _bold(f"{num(r['mean'])} $\\pm$ {num(r['std'])}", alone and r["rank"] == 1),
             _ci(r["ci_low"], r["ci_high"])] + [escape(companion(r, m)) for m in comps]
            + [str(r["n_finished"]), str(r["n_undefined"]), str(r["n_diverged"]),
               str(r["n_failed"])] + [escape(cost_num(c, r[f"cost_{c}"])) for c in costs]
            for _, r in t.iterrows()]
    where = f" (protocol {escape(protocol)})" if protocol else ""
    cap = (f"Cells ranked by final {escape(metric)}{where} "
           f"({'higher' if goal == 'max' else 'lower'} is better): mean $\\pm$ std over "
           "finished seeds (seed-to-seed, not evaluation noise), 95\\% CI of the mean "
           "(Student $t$ inside the metric's range); "
           "rank = 1 + the cells significantly better by the exact paired sign-flip test, "
           "Holm over every pair of cells; cells no test separates share a rank (=), and "
           "a cell ranked first alone is in bold; Undef.: finished runs whose final metric is "
           "undefined (counted, not averaged). " + escape(ranking_rule(metric)) + " "
           + escape(cost_note(t, stacked))
           + "".join(" " + escape(s) for s in published or []))
    head = (["Rank", "Cell", f"{escape(metric)}", "95\\% CI"]
            + [escape(COMPANION_LABELS[m]) for m in comps] + ["Fin.", "Undef.", "Div.", "Fail."]
            + [escape(COST_LABELS[c]) for c in costs])
    return _float(cap, label, "ll" + "r" * (len(head) - 2), head, rows)


def compact_tex(t: pd.DataFrame, plus: pd.DataFrame | None, metric: str, goal: str,
                label: str, protocol: str) -> str:
    """The paste-ready table: one row per ranked cell, five columns, a one-sentence caption.
    Δ comes from the primary analysis (the baseline + X ablation), so cells it does not test
    (combinations, the baseline itself) show none."""
    by_cell = {} if plus is None else {r["treated"]: r for _, r in plus.iterrows()}
    rows = []
    for _, r in t.iterrows():
        a = by_cell.get(r["cell"])
        delta = ("--" if a is None else
                 _bold(f"{num(a['delta'])} {_ci(a['ci_low'], a['ci_high'])}",
                       bool(a["significant"])))
        seq = plus is not None and "seq_state" in plus
        test = ("--" if a is None else escape(_seq(a)) if seq else escape(pval(a["p_holm"])))
        rows.append([escape(cell_label(r)), f"{num(r['mean'])} {_ci(r['ci_low'], r['ci_high'])}",
                     delta, test, str(r["n_finished"])])
    where = f" (protocol {escape(protocol)})" if protocol else ""
    seq = plus is not None and "seq_state" in plus
    test = ("group-sequential exact sign-flip test with seeds added while open, Holm with "
            "level recycling over the trick rows" if seq else
            "exact sign-flip test, Holm $p$ over the trick rows")
    cap = (f"Final {escape(metric)}{where} ({'higher' if goal == 'max' else 'lower'} is "
           "better), mean [95\\% CI] over seeds, and $\\Delta$ against the baseline paired by "
           f"seed ({test}; bold: significant).")
    head = ["Cell", escape(metric), r"$\Delta$ vs baseline",
            "Decided" if seq else "Holm $p$", "Seeds"]
    return _float(cap, label, "lrrrr", head, rows)


def _seq(a: pd.Series) -> str:
    """A sequential row's outcome: the paired seeds it was decided at, else open."""
    return f"at {int(a['seq_at'])}" if a["seq_state"] == "decided" else "open"


def ablation_tex(t: pd.DataFrame, metric: str, name: str, label: str, protocol: str) -> str:
    ctx = t["context"].astype(bool).any()
    comps = t.attrs.get("companions", [])
    rows = [([escape(r["context"])] if ctx else []) +
            [escape(r["term"]), _bold(num(r["delta"]), bool(r["significant"])),
             _ci(r["ci_low"], r["ci_high"]), escape(pval(r["p_holm"])), str(r["n_pairs"])]
            + [escape(f"{companion(r, m, 'ref_')} → {companion(r, m, 'trt_')}") for m in comps]
            + [f"{r['ref_diverged']}/{r['ref_n']} $\\to$ {r['trt_diverged']}/{r['trt_n']}"]
            for _, r in t.iterrows()]
    where = f", protocol {escape(protocol)}" if protocol else ""
    cap = (f"Ablation {escape(name)}{where}: $\\Delta$ {escape(metric)} = treated $-$ "
           "reference, paired by seed; significant effects in bold; diverged runs per cell. "
           + escape(table_note({name: t})))
    head = ((["Setting"] if ctx else []) + ["Trick", f"$\\Delta$ {escape(metric)}",
                                            "95\\% CI", "Holm $p$", "Pairs"]
            + [escape(COMPANION_LABELS[m]) for m in comps] + ["Diverged"])
    return _float(cap, label, ("l" if ctx else "") + "l" + "r" * (len(head) - 1 - ctx),
                  head, rows)


def factorial_tex(fx, metric: str, label: str, protocol: str) -> str:
    t = fx.table
    rows = [[escape(r["term"]), escape(kind(r)), _bold(num(r["estimate"]), bool(r["significant"])),
             _ci(r["ci_low"], r["ci_high"]), escape(pval(r["p_holm"]))]
            for _, r in t.iterrows()]
    where = f", protocol {escape(protocol)}" if protocol else ""
    cap = (f"Factorial analysis of {escape(metric)}{where} (supporting detail). "
           f"{escape(factorial_note(fx))} Significant effects in bold."
           + "".join(" " + escape(n) + "." for n in fx.notes))
    return _float(cap, label, "llrrr", ["Effect", "Kind", "Estimate", "95\\% CI",
                                        "Holm $p$"], rows)


def across_tex(acr, metric: str, label: str, protocol: str) -> str:
    """report/across.py's summary (supporting detail), its normalisation in the caption."""
    rows = [[escape(r["term"]), str(r["tasks"]), num(r["p_imp"]), _ci(r["p_low"], r["p_high"]),
             f"{num(r['iqm_trt'])} {_ci(r['trt_low'], r['trt_high'])}",
             f"{num(r['iqm_base'])} {_ci(r['base_low'], r['base_high'])}"]
            for _, r in acr.table.iterrows()]
    where = f", protocol {escape(protocol)}" if protocol else ""
    cap = (f"Across tasks{where} (supporting detail): a summary over the "
           f"{escape(acr.axis)} values, not a test; the within-task ablation decides. "
           + " ".join(escape(x) for x in across_sentences(acr, metric)[1:3]))
    return _float(cap, label, "lrrrrr", ["Trick", "Tasks", "P(improvement)", "95\\% CI",
                                         "IQM treated [95\\% CI]",
                                         "IQM baseline [95\\% CI]"], rows)


def document(rep: Report) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", rep.name).strip("-")
    out = [f"% ganbench report for sweep {escape(rep.name)}; needs \\usepackage{{booktabs}}",
           f"% produced by: {rep.command}", ""]
    for g in rep.groups:
        out += [f"% verdict{f' ({g.protocol})' if g.protocol else ''}: {line}"
                for line in g.headline]
    out.append("")
    for i, g in enumerate(rep.groups):
        sfx = f"-{i + 1}" if len(rep.groups) > 1 else ""
        # first the paste-ready table, then the full ones
        out.append(compact_tex(g.ranked, g.ablations.get("baseline + X"), rep.metric,
                               rep.goal, f"tab:{slug}-compact{sfx}", g.protocol))
        out.append(ranked_tex(g.ranked, rep.metric, rep.goal, f"tab:{slug}-ranked{sfx}",
                              g.protocol, rep.stacked, g.published))
        for name, t in g.ablations.items():
            kind = "plus" if name.startswith("baseline") else "minus"
            out.append(ablation_tex(t, rep.metric, name, f"tab:{slug}-{kind}{sfx}", g.protocol))
        if g.factorial is not None:
            out.append(factorial_tex(g.factorial, rep.metric, f"tab:{slug}-factorial{sfx}",
                                     g.protocol))
        if g.across is not None:
            out.append(across_tex(g.across, rep.metric, f"tab:{slug}-across{sfx}", g.protocol))
    return "\n".join(out)
