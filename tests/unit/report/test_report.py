"""The report's pure parts: the tidy runs table, analysis, Markdown, LaTeX, plots and CSV.

The MLflow store round trip and the CLI live in tests/integration/test_report_store.py.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from ganbench.report import latex
from ganbench.report.build import StoreData, analyse, write
from ganbench.report.frame import OFF, factors_of, protocol_column, tidy_runs
from ganbench.report.samples import save_scatter

from .test_stats import GP, SN, runs_frame, two_by_two


def store_data(runs: pd.DataFrame, tmp_path, design: str = "full", steps=(100, 200, 300),
               metric: str = "fid", goal: str = "min") -> StoreData:
    """A StoreData as read_store would return it, without a store."""
    rng = np.random.default_rng(0)
    history = pd.DataFrame([(rid, s, v + rng.normal(0, 0.1) + (300 - s) / 100)
                            for rid, v in zip(runs["run_id"], runs[f"metrics.eval/{metric}"],
                                              strict=True) if v == v for s in steps],
                           columns=["run_id", "step", "value"])
    samples = {}
    modes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    for rid in runs.loc[runs["params.seed"] == "0", "run_id"]:
        samples[rid] = save_scatter(torch.randn(200, 2) * 0.1, modes, tmp_path / f"{rid}.png")
    return StoreData("synth", metric, goal, design, [0, 1, 2, 3, 4], runs,
                     list(dict.fromkeys(runs["tags.ganbench.cell"])), history, f"eval/{metric}",
                     samples)


# ------------------------------------------------------------------ tidy runs


def test_trick_levels_are_named_by_the_parameters_that_differ():
    cells = {"baseline": {}, "gp1": {"gradient_penalty": {"weight": 1.0, "one_sided": False}},
             "gp10+sn": {"gradient_penalty": {"weight": 10.0, "one_sided": False}, **SN}}
    t = tidy_runs(runs_frame(cells, lambda c, s: 1.0, seeds=range(2)), "fid")
    f = {x.name: x for x in factors_of(t)}
    gp = f["gradient_penalty"]
    assert gp.levels == ("gp1", "gp10") and gp.reference == OFF
    assert f["spectral_norm"].levels == ("sn",)
    assert list(t.loc[t["cell"] == "gp10+sn", "gradient_penalty"]) == ["gp10", "gp10"]
    assert "steps" not in t.columns  # the same in every run: not a factor


def test_axes_take_their_reference_from_the_plan_order():
    def extra(label, seed):
        return {"params.loss": "hinge" if "hinge" in label else "ns"}

    cells = {"baseline · loss=hinge": {}, "baseline · loss=ns": {}}
    frame = runs_frame(cells, lambda c, s: 1.0, extra=extra)
    t = tidy_runs(frame, "fid", order=["baseline · loss=ns", "baseline · loss=hinge"])
    (loss,) = factors_of(t)
    assert (loss.kind, loss.reference, loss.levels) == ("axis", "ns", ("hinge",))
    assert loss.term("hinge") == "loss=hinge"
    assert t["cell"].iloc[0] == "baseline · loss=ns"


def test_tidy_runs_keeps_one_attempt_per_run_and_no_value_unless_finished():
    frame = runs_frame({"a": {}, "b": SN}, lambda c, s: 5.0, seeds=range(2))
    retry = frame.iloc[[0]].assign(run_id="a-0-retry", **{"tags.status": "killed"})
    frame = pd.concat([frame, retry], ignore_index=True)
    frame.loc[frame["run_id"] == "b-1", "tags.status"] = "diverged"
    t = tidy_runs(frame, "fid")
    assert len(t) == 4 and "a-0-retry" not in set(t["run_id"])
    assert math.isnan(t.loc[t["run_id"] == "b-1", "value"].iloc[0])


def test_value_is_the_final_metric_when_a_run_logs_one():
    frame = runs_frame({"a": {}}, lambda c, s: 9.0, seeds=range(2), metric="fid10k")
    frame["metrics.eval/fid10k/final"] = [7.0, math.nan]
    assert list(tidy_runs(frame, "fid10k")["value"]) == [7.0, 9.0]


def test_protocol_column_prefers_the_ranked_metrics_own_tag():
    frame = pd.DataFrame(columns=["tags.protocol", "tags.protocol.fid"])
    assert protocol_column(frame, "fid") == "tags.protocol.fid"
    assert protocol_column(frame, "kid") == "tags.protocol"
    assert protocol_column(pd.DataFrame(columns=["run_id"]), "fid") is None


def test_no_runs_is_a_value_error():
    with pytest.raises(ValueError, match="no runs"):
        tidy_runs(pd.DataFrame(), "fid")


# ------------------------------------------------------------------ the written report


@pytest.fixture
def written(tmp_path):
    frame = two_by_two()
    frame.loc[frame["run_id"] == "sn-4", ["tags.status", "metrics.eval/fid"]] = ["diverged",
                                                                                 math.nan]
    data = store_data(frame, tmp_path)
    rep = analyse(data, "ganbench report synth", "sqlite:///x.db")
    out = tmp_path / "out"
    write(rep, data, out)
    return rep, data, out


def _md_tables(text: str) -> list[list[str]]:
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    return tables


def test_markdown_report_has_every_table_and_embeds_existing_plots(written):
    rep, data, out = written
    md = (out / "report.md").read_text()
    for heading in ("## Ranked cells", "## Ablation: baseline + X", "## Ablation: all − X",
                    "## Factorial analysis"):
        assert heading in md
    tables = _md_tables(md)
    assert len(tables) == 4
    for table in tables:  # GitHub needs the same number of cells in every row
        counts = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(counts) == 1, table
    sn_row = next(r for r in tables[0] if "| sn |" in r)
    assert "| 4 | 0 | 1 (20%) | 0 |" in sn_row  # finished, undefined, diverged (rate), failed
    assert "0/5 → 1/5" in md
    # 5 seeds (4 paired for sn): no row can reach 0.05, and the verdict says why
    verdict = md.split("## Verdict", 1)[1].split("## Ranked cells", 1)[0]
    assert "spectral_norm: not decided" in verdict and "cannot reach 0.05" in verdict
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert set(images) == {"curves.png", "effects.png", "ablation-plus.png",
                           "ablation-minus.png", "samples.png"}
    for name in images:
        head = (out / name).read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n", name
    assert "Produced by: `ganbench report synth`" in md
    # summary.csv is written by every report, not only by `sweep` (one ranked table per file)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["cell"]) == list(rep.groups[0].ranked["cell"])


def test_runs_csv_lists_every_run_with_its_cell_and_value(written):
    rep, data, out = written
    csv = pd.read_csv(out / "runs.csv")
    assert len(csv) == len(data.runs) == 20
    assert list(csv.columns[:8]) == ["run_id", "run_name", "cell", "seed", "status", "used",
                                     "fid", "protocol"]
    row = csv[csv["run_id"] == "sn-4"].iloc[0]
    assert row["status"] == "diverged" and math.isnan(row["fid"])
    assert set(csv["spectral_norm"]) == {"off", "sn"}


def test_runs_csv_names_the_status_of_attempts_the_analysis_leaves_out(tmp_path):
    """Issue 31, item 9: a killed attempt's row had an empty status."""
    from ganbench.report.build import runs_csv

    frame = runs_frame({"a": {}, "b": SN}, lambda c, s: 5.0, seeds=range(3))
    killed = frame.iloc[[0]].assign(run_id="a-0-killed", mlflow_status="KILLED")
    killed = killed.drop(columns=["tags.status"])
    lost = frame.iloc[[1]].assign(run_id="a-1-lost", **{"tags.status": "lost"})
    frame = pd.concat([killed, lost, frame], ignore_index=True)
    rep = analyse(store_data(frame, tmp_path), "cmd", "store")
    csv = runs_csv(frame, rep).set_index("run_id")
    assert csv.loc["a-0-killed", "status"] == "killed"
    assert csv.loc["a-1-lost", "status"] == "lost"
    assert not csv.loc["a-0-killed", "used"] and csv.loc["a-0", "status"] == "finished"
    assert csv["status"].notna().all()


def test_runs_under_two_protocols_get_separate_sections(tmp_path):
    def extra(label, seed):
        return {"tags.protocol.fid": "fid10k" if seed < 3 else "fid50k"}

    frame = runs_frame({"baseline": {}, "sn": SN, "gp": GP, "gp+sn": {**SN, **GP}},
                       lambda c, s: 10.0 + s + (c == "sn"), extra=extra)
    data = store_data(frame, tmp_path)
    rep = analyse(data, "cmd", "uri")
    assert [g.protocol for g in rep.groups] == ["fid10k", "fid50k"]
    write(rep, data, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Protocol `fid10k`" in md and "## Protocol `fid50k`" in md
    assert "never ranks them together" in md
    assert (tmp_path / "out" / "curves-2.png").is_file()
    tex = (tmp_path / "out" / "report.tex").read_text()
    assert "tab:synth-ranked-1" in tex and "tab:synth-ranked-2" in tex


def test_one_at_a_time_design_has_no_factorial_section(tmp_path):
    frame = runs_frame({"baseline": {}, "sn": SN, "gp": GP}, lambda c, s: float(s))
    rep = analyse(store_data(frame, tmp_path, design="one-at-a-time"), "cmd", "uri")
    assert rep.groups[0].factorial is None and list(rep.groups[0].ablations) == ["baseline + X"]


# ------------------------------------------------------------------ LaTeX


def _tabulars(tex: str) -> list[tuple[str, list[str]]]:
    found = re.findall(r"\\begin\{tabular\}\{([lrc]+)\}(.*?)\\end\{tabular\}", tex, re.S)
    return [(spec, [r for r in body.split("\\\\") if "&" in r]) for spec, body in found]


def test_latex_tables_have_consistent_columns_and_bold_a_lone_first_rank(written):
    rep, data, out = written
    tex = (out / "report.tex").read_text()
    tabs = _tabulars(tex)
    assert len(tabs) == 5  # the compact table, then ranked, two ablations, factorial
    for spec, rows in tabs:
        for row in rows:
            assert row.count("&") - row.count(r"\&") == len(spec) - 1, row
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 5
    # braces balance outside escaped ones
    plain = tex.replace(r"\{", "").replace(r"\}", "")
    assert plain.count("{") == plain.count("}")
    ranked = tabs[1][1]
    firsts = rep.groups[0].ranked.query("rank == 1")["mean"]  # bold only when one is first
    assert sum(r"\textbf{" in r for r in ranked) == (len(firsts) == 1)
    assert "gradient\\_penalty" in tex and "spectral\\_norm" in tex


def test_latex_compact_table_is_paste_ready_and_agrees_with_the_primary_analysis(written):
    """Issue 31: a paper table of at most 6 columns with a one-sentence caption, Δ from the
    baseline + X ablation."""
    rep, _, out = written
    tex = (out / "report.tex").read_text()
    spec, rows = _tabulars(tex)[0]
    rows = [r.replace(r"\midrule", "").strip() for r in rows[1:]]  # the header row first
    assert len(spec) <= 6 and "tab:synth-compact" in tex.split(r"\end{table}")[0]
    caption = re.search(r"\\caption\{(.*)\}\n\\label\{tab:synth-compact", tex).group(1)
    assert caption.count(". ") == 0 and caption.endswith(".")  # one sentence
    g = rep.groups[0]
    assert len(rows) == len(g.ranked)
    plus = g.ablations["baseline + X"]
    for _, a in plus.iterrows():
        row = next(r for r in rows if r.startswith(latex.escape(a["treated"]) + " &"))
        assert latex.num(a["delta"]) in row
        assert (r"\textbf{" in row) == bool(a["significant"])
    base = next(r for r in rows if r.startswith("baseline &"))
    assert base.count("--") >= 2  # the baseline has no Δ against itself


def test_latex_bolds_a_cell_only_when_it_is_first_alone(written):
    """Issue 31, item 9: with several cells sharing rank 1, one was bold (or all were)."""
    rep = written[0]
    t = rep.groups[0].ranked.copy()

    def bold_rows(ranks):
        t["rank"] = ranks
        body = latex.ranked_tex(t, rep.metric, "max", "tab:x", "").split(r"\midrule")[1]
        return [r for r in body.split("\\\\") if "&" in r and r"\textbf{" in r]

    assert len(bold_rows([1] + [2] * (len(t) - 1))) == 1
    assert bold_rows([1, 1] + [3] * (len(t) - 2)) == []


def test_latex_escape_covers_specials_and_unicode():
    assert latex.escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"
    assert latex.escape("baseline · loss=hinge") == r"baseline $\cdot$ loss=hinge"
    assert latex.escape("sn × gp → ✓") == r"sn $\times$ gp $\to$ ?"
    assert latex.num(-4.1234) == "$-$4.12"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex missing: `make test` installs texlive as root")
def test_latex_report_compiles_with_pdflatex(written, tmp_path):
    rep, data, out = written
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                   f"\\input{{{out / 'report.tex'}}}\n\\end{{document}}\n")
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
