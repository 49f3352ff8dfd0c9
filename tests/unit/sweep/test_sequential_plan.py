"""Sequential seeds in the sweep file and the plan: the `seeds: {min, max}` form, its errors,
and the rounds (sweep/rounds.py): which seeds each cell gets from the results so far."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from ganbench.config import ConfigError
from ganbench.report.planning import planned_runs
from ganbench.sweep import rounds
from ganbench.sweep.runner import load_plan

SPEC = """
name: s
base: {dataset: ring8, model: mlp, steps: 10}
tricks:
  label_smoothing: [off, on]
  ttur: [off, on]
design: one-at-a-time
seeds: {min: 3, max: 8}
metric: {name: hq, goal: max}
"""


def _plan(tmp_path, text=SPEC):
    f = tmp_path / "s.yaml"
    f.write_text(textwrap.dedent(text))
    return load_plan(f, data="skip")


def _runs(p, values: dict[str, list[float]]) -> pd.DataFrame:
    """An MLflow-shaped runs frame: cell label -> the values of its seeds 0, 1, …"""
    params = planned_runs(p.cells).set_index("tags.ganbench.cell")
    rows = []
    for r in p.runs:
        vals = values.get(r.cell.label, [])
        if r.seed >= len(vals):
            continue
        row = params.loc[r.cell.label].to_dict()
        row.update({"run_id": r.run_key, "tags.ganbench.cell": r.cell.label,
                    "tags.ganbench.run_key": r.run_key, "status": "FINISHED",
                    "tags.status": "finished", "params.seed": str(r.seed),
                    "metrics.eval/hq/final": vals[r.seed]})
        rows.append(row)
    return pd.DataFrame(rows)


def test_the_mapping_plans_every_seed_up_to_max_and_the_first_round_at_min(tmp_path):
    p = _plan(tmp_path)
    assert p.spec.n_seeds == 8 and p.spec.seed_list == list(range(8))
    rnd = rounds.state(p, None)
    assert rnd.table == "baseline + X" and len(rnd.rows) == 2
    assert set(rnd.targets.values()) == {3}
    assert len(rounds.trim(p, rnd).runs) == 3 * 3


def test_open_rows_get_their_next_look_and_decided_ones_stop(tmp_path):
    p = _plan(tmp_path)
    labels = [c.label for c in p.cells]
    base, ls, tt = labels
    big = [0.0] * 8
    runs = _runs(p, {base: big, ls: [1.0] * 8, tt: [0.0, 0.1, -0.1]})
    rnd = rounds.state(p, runs)
    by = {r.treated: r for r in rnd.rows}
    assert by[ls].decided_at is not None and by[ls].decided_at <= 8
    assert by[tt].state == "open" and by[tt].next_n == 4
    assert rnd.targets[tt] == 4 and rnd.targets[base] == 8
    # the same results give the same decisions (a resumed sweep plans the same round)
    again = rounds.state(p, runs.sample(frac=1.0, random_state=1))
    assert [(r.decided_at, r.next_n) for r in again.rows] == \
        [(r.decided_at, r.next_n) for r in rnd.rows]


@pytest.mark.parametrize(("text", "needle"), [
    (SPEC.replace("{min: 3, max: 8}", "{min: 3, max: 8, steps: 2}"),
     "seeds: steps: Extra inputs are not permitted (a sequential seeds mapping has min, max, "
     "step, spending)"),
    (SPEC.replace("{min: 3, max: 8}", "{min: 5, max: 4}"), "max (4) must be at least min (5)"),
    (SPEC.replace("tricks:\n  label_smoothing: [off, on]\n  ttur: [off, on]\n", ""),
     "sequential seeds need a primary comparison"),
])
def test_mistakes_are_one_line_with_the_file_and_line(tmp_path, text, needle):
    with pytest.raises(ConfigError) as e:
        _plan(tmp_path, text)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
    line = 1 + next(i for i, t in enumerate(textwrap.dedent(text).splitlines())
                    if t.startswith("seeds:"))
    assert msg.startswith(f"{tmp_path / 's.yaml'}:{line}: seeds: ")
