"""The parent run's description: the report's ranked table, cut to fit an MLflow tag."""

from __future__ import annotations

from ganbench.sweep.runner import ranked_section

MD = """# Sweep `x`: report

Metric: final `modes`.

## Ranked cells

| rank | cell | modes mean ± std |
|---|---|---|
| 1 | ttur | 7 ± 1 |
| 2 | baseline | 5 ± 1 |

Ranked by `modes`, as the sweep file asks. Long prose.

## Ablation: baseline + X

| trick | delta |
|---|---|
"""


def test_ranked_section_keeps_the_heading_and_table_only():
    got = ranked_section(MD)
    assert got.startswith("## Ranked cells")
    assert "| 1 | ttur | 7 ± 1 |" in got and "| 2 | baseline | 5 ± 1 |" in got
    assert "Long prose" not in got and "Ablation" not in got and "| trick |" not in got


def test_no_ranked_section_is_empty():
    assert ranked_section("# Sweep\n\n## Other\n\n| a |\n") == ""


def test_a_long_note_is_cut_at_a_line_under_the_tag_limit(tmp_path):
    from ganbench.store.mlflow import MLflowStore

    store = MLflowStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = store.experiment("n", tmp_path / "art")
    run = store.parent_run(exp, "n")
    rows = "\n".join(f"| {i} | cell{i} | 1.0 |" for i in range(2000))
    store.set_note(run, rows)
    note = store.client.get_run(run).data.tags["mlflow.note.content"]
    assert len(note) <= 8000 and "report.md" in note
    assert note.splitlines()[-3].startswith("| ") and note.splitlines()[-3].endswith("|")
