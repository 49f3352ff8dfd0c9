"""The report as GitHub-renderable Markdown: tables from report/stats.py, plots embedded."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ganbench.report.records import Report

from ganbench.report.evalnoise import measured
from ganbench.report.evalnoise import sentences as noise_sentences
from ganbench.report.factorial import model_sentence
from ganbench.report.notes import (
    COMPANION_LABELS,
    COST_LABELS,
    cost_note,
    ranked_note,
    ranking_rule,
    table_note,
)
from ganbench.report.stats import INTERVAL
from ganbench.report.verdict import primary_table


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


def companion(r: pd.Series, m: str, prefix: str = "") -> str:
    """A companion metric's cell mean; hq as a percentage; undefined runs counted."""
    v = r[f"{prefix}{m}"] if prefix else r[f"{m}_mean"]
    text = num(100 * v if m == "hq" and v == v else v)
    k = 0 if prefix else r.get(f"{m}_undefined", 0)
    return text + (f" ({k} undef.)" if k else "")


def cost_num(c: str, v) -> str:
    """Steps as whole numbers, seconds to 3 significant digits."""
    if v != v:
        return "—"
    return num(v) if c == "seconds" else f"{v:,.0f}"


def cell_label(r: pd.Series) -> str:
    return r["cell"] + (f" ({r['spread']})" if r.get("spread") else "")


def ranked_md(t: pd.DataFrame, metric: str) -> str:
    comps, costs = t.attrs.get("companions", []), t.attrs.get("costs", [])
    changes = "changes" in t and t["changes"].astype(bool).any()
    rows = [[rank_label(r), cell_label(r), f"{num(r['mean'])} ± {num(r['std'])}",
             ci(r["ci_low"], r["ci_high"])] + [companion(r, m) for m in comps]
            + [str(r["n_finished"]), str(r["n_undefined"]),
               f"{r['n_diverged']} ({num(100 * r['failure_rate'], 2)}%)", str(r["n_failed"])]
            + [cost_num(c, r[f"cost_{c}"]) for c in costs]
            + ([r["changes"] or "—"] if changes else [])
            for _, r in t.iterrows()]
    head = (["rank", "cell", f"{metric} mean ± std", INTERVAL]
            + [COMPANION_LABELS[m] for m in comps]
            + ["finished", "undefined", "diverged (rate)", "failed"]
            + [COST_LABELS[c] for c in costs] + (["changes"] if changes else []))
    return _table(head, rows)


def ablation_md(t: pd.DataFrame, metric: str) -> str:
    context = t["context"].astype(bool).any()
    changes = "changes" in t and t["changes"].astype(bool).any()
    comps = t.attrs.get("companions", [])
    rows = []
    for _, r in t.iterrows():
        row = [r["term"], f"{r['reference']} → {r['treated']}", num(r["delta"]),
               ci(r["ci_low"], r["ci_high"]), pval(r["p"]), pval(r["p_holm"]),
               "*" if r["significant"] else "", str(r["n_pairs"])]
        row += [f"{companion(r, m, 'ref_')} → {companion(r, m, 'trt_')}" for m in comps]
        row.append(f"{r['ref_diverged']}/{r['ref_n']} → {r['trt_diverged']}/{r['trt_n']}")
        row += [r["changes"] or "—"] if changes else []
        rows.append(([r["context"]] if context else []) + row)
    head = (["trick", "cells", f"Δ {metric}", INTERVAL, "p", "Holm p", "sig.", "pairs"]
            + [f"{COMPANION_LABELS[m]} (ref → trt)" for m in comps] + ["diverged"]
            + (["changes"] if changes else []))
    if "seq_state" in t:  # sequential seeds: the looks decide (sig.), p is the final data's
        head = [h if h != "p" else "fixed-n p" for h in head] + ["sequential"]
        for row, (_, r) in zip(rows, t.iterrows(), strict=True):
            row.append(f"decided at {int(r['seq_at'])}" if r["seq_state"] == "decided"
                       else f"{r['seq_state']} ({r['seq_n']})")
    return _table((["setting"] if context else []) + head, rows)


SEQUENTIAL_NOTE = ("Seeds were added sequentially: sig. is the group-sequential test's "
                   "decision (paired seeds at the decision in `sequential`; open rows with "
                   "their paired seeds); p and Holm p are fixed-n tests of the final data, not "
                   "adjusted for the looks, and decide nothing.")


def noise_md(noise: pd.DataFrame, metric: str) -> str:
    """Per cell: evaluation draws, eval sd (mean over runs), seed sd, and their ratio."""
    rows = []
    for _, r in noise.iterrows():
        sd = r["eval_sd"]
        ratio = num(sd / r["seed_sd"]) if sd == sd and r["seed_sd"] == r["seed_sd"] \
            and r["seed_sd"] > 0 else "—"
        rows.append([r["cell"], str(int(r["draws"])),
                     f"{num(sd)} ({int(r['n_eval'])} runs)" if sd == sd
                     else "not measured (one draw)" if r["draws"] <= 1 else "not measured",
                     num(r["seed_sd"]), ratio])
    return _table(["cell", "draws per run", f"eval sd of {metric} (mean over runs)",
                   "seed sd", "eval sd / seed sd"], rows)


def across_md(acr) -> str:
    """report/across.py's table: one row per trick level."""
    rows = [[r["term"], f"{r['tasks']} ({r['task_names']})",
             f"{num(r['p_imp'])} {ci(r['p_low'], r['p_high'])}",
             f"{num(r['iqm_trt'])} {ci(r['trt_low'], r['trt_high'])}",
             f"{num(r['iqm_base'])} {ci(r['base_low'], r['base_high'])}", r["within"]]
            for _, r in acr.table.iterrows()]
    return _table(["trick", "tasks", f"P(improvement) [{INTERVAL}]",
                   f"IQM treated [{INTERVAL}]", f"IQM baseline [{INTERVAL}]",
                   "within-task tests (primary)"], rows)


def across_sentences(acr, metric: str) -> list[str]:
    """What the across-task table is, said under it; and where it leans another way than
    the within-task tests (never silently)."""
    from ganbench.report.across import RESAMPLES, SEED

    ax = acr.axis
    best = "lowest" if acr.goal == "min" else "highest"
    out = [f"Supporting detail: a summary across the {ax} values ({', '.join(acr.tasks)}), "
           "not a test; the verdict comes from the within-task exact tests (the `baseline + "
           f"X` rows per {ax}), whose decisions are in the last column.",
           f"Normalised score: per {ax}, each run's `{metric}` is mapped to [0, 1] by the "
           f"lowest and highest value any run of that {ax} reached (every cell and seed), 1 "
           f"being the {best} (the better end), so tasks on different scales can be pooled.",
           f"P(improvement): per {ax}, the share of seeds at which the treated run beats the "
           "baseline run of the same seed (ties count 1/2), averaged over the tasks (rliable's "
           "probability of improvement, Agarwal et al. 2021); 0.5 is no effect. IQM: the "
           "interquartile mean (middle 50%) of a cell's normalised scores pooled over tasks "
           f"and seeds. Intervals: percentile stratified bootstrap ({RESAMPLES:,} resamples, "
           f"seed {SEED}), seed pairs or runs resampled within each {ax} on its own; with "
           "few seeds they can be narrower than 95%, so P(improvement)'s reaches at least the "
           "share of outcomes its N paired seeds could miss (about 3/N) towards 0 and 1, "
           "never a point from all wins. Runs without a value (diverged, "
           "undefined) are left out."]
    if acr.held:
        out.append("Other axes held at their reference level: "
                   + ", ".join(f"{k}={v}" for k, v in acr.held.items()) + ".")
    short = [f"{r['term']} ({r['short']})" for _, r in acr.table.iterrows() if r["short"]]
    if short:
        out.append("No interval where a task has fewer than 2 seeds in a cell: "
                   + "; ".join(short) + ".")
    for _, r in acr.table.iterrows():
        lean = ("better" if r["p_low"] > 0.5 else "worse" if r["p_high"] < 0.5 else None)
        decided = {w.rpartition(": ")[2] for w in r["within"].split("; ")}
        if lean and lean not in decided:
            out.append(f"{r['term']}: the summary leans {lean} (P(improvement) interval "
                       f"{'above' if lean == 'better' else 'below'} 0.5), but no within-task "
                       "test decides it so; the within-task tests are the answer.")
        elif not lean and decided & {"better", "worse"}:
            out.append(f"{r['term']}: a within-task test decides it, but the summary's "
                       "P(improvement) interval includes 0.5: the effect is not the same "
                       f"on every {ax}.")
    return out + acr.notes


def factorial_md(t: pd.DataFrame) -> str:
    rows = [[r["term"], kind(r), num(r["estimate"]), ci(r["ci_low"], r["ci_high"]),
             pval(r["p"]), pval(r["p_holm"]), "*" if r["significant"] else ""]
            for _, r in t.iterrows()]
    return _table(["effect", "kind", "estimate", INTERVAL, "p", "Holm p", "sig."], rows)


def factorial_note(fx) -> str:
    """What the factorial table is, said once under it (markdown and LaTeX)."""
    return (f"{model_sentence(fx)} Each effect: the contrast's mean over the seeds that have "
            "every cell of it, its 95% CI by the rule of the ranked table on the per-seed "
            "contrasts, and the exact sign-flip test on them (no variance pooled across cells, "
            f"so unequal cell variances do not bias it); {fx.n_used} runs with a value; "
            f"p-values Holm-corrected over the {len(fx.table)} effects. Supporting detail: "
            "the verdict above comes from the primary analysis.")


def kind(r: pd.Series) -> str:
    return "main" if r["kind"] == "main" else f"{int(r['order'])}-way"


def document(rep: Report) -> str:
    goal = "higher" if rep.goal == "max" else "lower"
    out = [f"# Sweep `{rep.name}`: report", "",
           f"Metric: final `{rep.metric}` ({goal} is better). Design `{rep.design}`; "
           f"{rep.n_cells} cells, seeds {rep.seeds}; {rep.n_runs} runs read from the MLflow "
           f"store `{rep.store}`. Every run is listed in [runs.csv](runs.csv).", ""]
    out += [f"> **Warning.** {w}" for w in rep.warnings] + ([""] if rep.warnings else [])
    if len(rep.groups) > 1:
        out += [f"Runs measured `{rep.metric}` under {len(rep.groups)} different protocols "
                f"(`{rep.protocol_column}`). Values under different protocols are not "
                "comparable, so every table below is split by protocol and never ranks "
                "them together.", ""]
    rule = ranking_rule(rep.metric)
    for g in rep.groups:
        h = "##"
        if len(rep.groups) > 1:
            out += [f"## Protocol `{g.protocol}`", ""]
            h = "###"
        out += [f"{h} Verdict", ""] + [f"- {s}" for s in g.headline] + [""]
        out += [f"{h} Ranked cells", "", ranked_md(g.ranked, rep.metric), ""]
        out += [rule, ""] if rule else []
        out += [ranked_note(g.ranked.attrs.get("pairs")), "",
                cost_note(g.ranked, rep.stacked), ""]
        out += [s + "\n" for s in g.published]
        if g.noise is not None:
            out += [f"{h} Evaluation noise beside seed-to-seed noise", ""]
            out += [noise_md(g.noise, rep.metric), ""] if measured(g.noise) else []
            out += [s + "\n" for s in noise_sentences(g.noise, rep.metric)]
        prim = primary_table(g)
        for name, t in g.ablations.items():
            what = ("each trick alone vs no trick" if name == "baseline + X"
                    else "every trick vs every trick but X")
            role = "; the primary analysis" if prim and prim[0] == name else \
                "; supporting detail"
            out += [f"{h} Ablation: {name} ({what}{role})", "", ablation_md(t, rep.metric), "",
                    "Δ = treated − reference, paired by seed over seeds where both have a "
                    "value. " + table_note({name: t}) + " Diverged: diverged/runs in "
                    "reference → treated cell."
                    + (" " + SEQUENTIAL_NOTE if "seq_state" in t else ""), ""]
        if g.factorial is not None:
            fx = g.factorial
            out += [f"{h} Factorial analysis (supporting detail)", "",
                    factorial_md(fx.table), "", factorial_note(fx), ""]
            out += [f"- {n}" for n in fx.notes] + ([""] if fx.notes else [])
            out += ([f"- {s}" for s in g.sentences]
                    or ["No effect is significant after correction."]) + [""]
        if g.disagreements:
            out += [f"{h} Where the ablation and the factorial disagree", ""]
            out += [f"- {s}" for s in g.disagreements] + [""]
        if g.across is not None:
            out += [f"{h} Across tasks (supporting detail)", "", across_md(g.across), ""]
            out += [s + "\n" for s in across_sentences(g.across, rep.metric)]
        for title, file in g.plots:
            out += [f"{h} {title}", "", f"![{title}]({file})", ""]
    out += [f"_{n}_" for n in rep.notes] + ([""] if rep.notes else [])
    out += [f"Produced by: `{rep.command}`", ""]
    return "\n".join(out)
