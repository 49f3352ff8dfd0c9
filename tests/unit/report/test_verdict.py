"""The report's verdict, end to end through the pure path (runs frame -> tidy -> analyses ->
headline): a null sweep decides nothing, a planted harm is found in one consistent verdict
with the dead cell last, a confound is named, and the 2-D default metric has no cliff."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from ganbench.metrics.mog import gate_modes, mode_score
from ganbench.report.build import analyse
from ganbench.report.records import StoreData


@pytest.fixture(autouse=True)
def fast_holm(monkeypatch):
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


def frame(cells: dict[str, tuple[dict, dict]], value, seeds: int) -> pd.DataFrame:
    """cells: label -> (tricks {name: {param: value}}, resolved settings); value(label, seed)
    -> (modes, hq)."""
    rows = []
    for label, (tricks, resolved) in cells.items():
        for s in range(seeds):
            modes, hq = value(label, s)
            row = {"run_id": f"{label}-{s}", "run_name": f"{label} · s{s}",
                   "params.seed": str(s), "params.dataset": "ring8", "params.loss": "ns",
                   "tags.ganbench.run_key": f"{label}/{s}", "tags.ganbench.cell": label,
                   "tags.status": "finished", "metrics.eval/modes/final": float(modes),
                   "metrics.eval/hq/final": hq, "metrics.eval/mode_score/final":
                   mode_score(modes, hq), "metrics.eval/modes_hq/final": gate_modes(modes, hq)}
            for name, params in tricks.items():
                for k, v in params.items():
                    row[f"params.tricks.{name}.{k}"] = str(v)
            row.update({f"params.resolved.{k}": str(v) for k, v in resolved.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def report(runs: pd.DataFrame, metric: str = "mode_score", design: str = "full"):
    data = StoreData("t", metric, "max", design, list(range(runs["params.seed"].nunique())),
                     runs, list(dict.fromkeys(runs["tags.ganbench.cell"])),
                     pd.DataFrame(columns=["run_id", "step", "value"]), f"eval/{metric}", {})
    return analyse(data, "test", "memory").groups[0]


BASE = {"lr_d": 2e-3, "lr_g": 2e-3, "d_steps_per_g": 1, "batch_size": 128}
SN = {"spectral_norm": {"n_power_iterations": 1}}
LS = {"label_smoothing": {"real": 0.9}}


def working(g):
    return lambda label, s: (int(g.integers(6, 9)), float(g.uniform(0.6, 0.95)))


def test_null_sweeps_decide_nothing():
    decided = 0
    for rep in range(30):
        g = np.random.default_rng(rep)
        cells = {"baseline": ({}, BASE), "sn": (SN, BASE), "ls": (LS, BASE),
                 "ls+sn": ({**SN, **LS}, BASE)}
        grp = report(frame(cells, working(g), seeds=8))
        said = " ".join(grp.headline)
        decided += "No trick comparison is decided." not in said
        decided += "no two cells are separated" not in said
    assert decided <= 2  # 60 family-wise chances at 5% each: ~3 expected at most


def test_a_planted_harm_is_found_in_one_consistent_verdict_with_the_dead_cell_last():
    # The audit's case: a learning rate that kills every seed (0 modes, 0 hq); the working
    # baseline covers 6-8 modes at 20% hq (as at 1,500 steps, where modes_hq is 0).
    g = np.random.default_rng(1)
    cells = {"baseline": ({}, BASE), "lr30": (SN, {**BASE, "lr_d": 6e-2, "lr_g": 6e-2})}

    def value(label, s):
        return (0, 0.0) if label == "lr30" else (int(g.integers(6, 9)), 0.2)

    runs = frame(cells, value, seeds=8)
    grp = report(runs)
    row = grp.ablations["baseline + X"].iloc[0]
    assert row["significant"] and row["delta"] < -5
    assert grp.factorial.table.iloc[0]["significant"]  # the same contrast, the same verdict
    assert list(grp.ranked["cell"]) == ["baseline", "lr30"] and list(grp.ranked["rank"]) == [1, 2]
    said = " ".join(grp.headline)
    assert "lowers mode_score by" in said and "(worse;" in said
    assert "learning rate of D 2e-3 → 0.06 and of G 2e-3 → 0.06" in said  # the confound
    # Under the old default, modes_hq, every run is 0: nothing could be found.
    old = report(runs, metric="modes_hq")
    assert not old.ablations["baseline + X"]["significant"].any()
    assert "Every run gave the same modes_hq" in " ".join(old.headline)


def test_a_confound_is_named_on_the_rows_even_when_undecided():
    g = np.random.default_rng(2)
    ttur = {**BASE, "lr_d": 4e-3, "lr_g": 1e-3}
    cells = {"baseline": ({}, BASE), "ttur": ({"ttur": {"ratio": 4.0}}, ttur)}
    grp = report(frame(cells, working(g), seeds=3))
    change = "learning rate of D 2e-3 → 4e-3 and of G 2e-3 → 1e-3"
    assert grp.ablations["baseline + X"].iloc[0]["changes"] == change
    assert grp.ranked.set_index("cell").loc["ttur", "changes"] == change
    said = " ".join(grp.headline)
    assert f"confounded: it also changes {change}" in said
    assert "cannot reach 0.05" in said and "at least 6 are needed" in said


def test_cells_below_half_high_quality_are_named_as_not_converged():
    g = np.random.default_rng(3)
    cells = {"baseline": ({}, BASE), "sn": (SN, BASE)}
    grp = report(frame(cells, lambda c, s: (int(g.integers(1, 3)), 0.1), seeds=3))
    assert any("Every cell below 50% high-quality" in s for s in grp.headline)


def test_mode_score_has_no_cliff_and_ranks_coverage_first():
    dead, collapsed = mode_score(0, 0.0), mode_score(1, 1.0)
    seven_low, seven_high = mode_score(7, 0.2), mode_score(7, 0.9)
    assert dead < collapsed < seven_low < seven_high  # coverage first, quality second
    assert mode_score(2, 0.001) > collapsed  # more modes at any quality beats a collapse
    # modes_hq's cliff: 49% hq scores as a dead run, a collapse outranks 7 modes at 20%.
    assert gate_modes(7, 0.49) == gate_modes(0, 0.0) and gate_modes(1, 1.0) > gate_modes(7, 0.2)


def test_rank_sentence_says_when_no_pair_could_be_separated():
    # 15 cells x 10 seeds, every cell far from the next: 105 pairs, the smallest exact p
    # 2/1024, and 105 * 2/1024 > 0.05, so the ranks cannot separate any pair
    import numpy as np
    import pandas as pd

    from ganbench.report.inference import pairwise
    from ganbench.report.records import Group
    from ganbench.report.verdict import rank_sentence

    rng = np.random.default_rng(0)
    wide = pd.DataFrame({f"c{i}": 10.0 * i + rng.normal(size=10) for i in range(15)})
    pairs = pairwise(wide)
    ranked = pd.DataFrame({"cell": list(wide), "rank": 1.0})
    ranked.attrs["pairs"] = pairs
    g = Group("", pd.DataFrame(), ranked, {}, None, [])
    said = rank_sentence(g)
    assert "no pair can be: 10 paired seeds cannot reach 0.05 after Holm over 105" in said
    assert "(at least 13 are needed" in said
    wide3 = wide.iloc[:, :3]  # 3 pairs: 10 seeds can separate them, and do
    ranked3 = ranked.iloc[:3].copy()
    ranked3.attrs["pairs"] = pairwise(wide3)
    assert "no pair can be" not in rank_sentence(Group("", pd.DataFrame(), ranked3, {}, None, []))


def test_rank_sentence_names_the_ablations_smaller_need_only_when_it_is_smaller():
    """Two cells, 2 seeds: one pair and one ablation row; the ablation is no smaller a
    family, so the sentence must not say it can decide with fewer seeds."""
    import pandas as pd

    from ganbench.report.inference import pairwise
    from ganbench.report.records import Group
    from ganbench.report.verdict import rank_sentence

    wide = pd.DataFrame({"baseline": [1.0, 2.0], "x": [3.0, 5.0]})
    ranked = pd.DataFrame({"cell": list(wide), "rank": 1.0})
    ranked.attrs["pairs"] = pairwise(wide)
    one_row = pd.DataFrame({"term": ["x"], "reference": ["baseline"], "treated": ["x"]})
    g = Group("", pd.DataFrame(), ranked, {"baseline + X": one_row}, None, [])
    said = rank_sentence(g)
    assert "over 1 pairs (at least 6 are needed)" in said and "ablation" not in said
    assert "ablation" not in rank_sentence(Group("", pd.DataFrame(), ranked, {}, None, []))
