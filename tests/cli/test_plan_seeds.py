"""`ganbench sweep FILE --plan-seeds`: a table of the seeds each primary comparison needs,
from a stated spread or a pilot sweep's runs; nothing is trained and nothing is written; a
bad option is one line naming it."""

from __future__ import annotations

from helpers.cli import assert_user_error, invoke, write

SWEEP = """
    name: plan-test
    base: {dataset: ring8, steps: 20, batch_size: 16, log_every: 5}
    tricks:
      label_smoothing: [off, on]
      spectral_norm: [off, on]
    axes:
      loss: [ns, hinge]
    seeds: 5
    metric: {name: modes, goal: max}
"""


def _rows(output: str) -> dict[str, list[str]]:
    return {cells[1].strip(): [c.strip() for c in cells[2:]] for line in output.splitlines()
            if (cells := line.split("│")) and len(cells) >= 6 and "·" in cells[1]}


def test_a_stated_spread_prints_the_plan_and_trains_nothing(tmp_path):
    from ganbench.report.planning import seeds_for_power

    path = write(tmp_path / "sweep.yaml", SWEEP)
    results = tmp_path / "res"
    result = invoke("sweep", path, "--plan-seeds", "--effect", "3", "--sd", "1",
                    "--results", results)
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    # baseline + X within each loss (label smoothing is dropped under hinge): Holm over 3
    assert set(rows) == {"label_smoothing · loss=ns", "spectral_norm · loss=ns",
                         "spectral_norm · loss=hinge"}
    want = seeds_for_power(3.0, 1.0, rows=3).seeds
    for cells in rows.values():
        assert cells[0] == "1 (stated)" and cells[1] == "0%"
        assert cells[2] == str(want) and want > 5 and cells[3] == "0.00"
    out = " ".join(result.output.split())
    assert "exact paired sign-flip test (two-sided, α = 0.05" in out
    assert "Holm over its 3 rows" in out and "80% power" in out
    assert not results.exists()
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.yaml"}


def test_ties_raise_the_seeds_and_beyond_the_cap_says_so(tmp_path):
    path = write(tmp_path / "sweep.yaml", SWEEP)
    plain = _rows(invoke("sweep", path, "--plan-seeds", "--effect", "3", "--sd", "1").output)
    tied = _rows(invoke("sweep", path, "--plan-seeds", "--effect", "3", "--sd", "1",
                        "--ties", "0.4").output)
    key = "spectral_norm · loss=ns"
    assert tied[key][1] == "40%" and int(tied[key][2]) > int(plain[key][2])
    far = invoke("sweep", path, "--plan-seeds", "--effect", "0.05", "--sd", "1",
                 "--power", "0.99")
    assert far.exit_code == 0, far.output
    assert _rows(far.output)[key][2] == "> 50"


def test_a_pilot_sweeps_runs_give_the_spread_and_the_ties(tmp_path):
    from ganbench.store.mlflow import MLflowStore

    path = write(tmp_path / "sweep.yaml", """
        name: plan-test
        base: {dataset: ring8, steps: 20}
        tricks:
          spectral_norm: [off, on]
        seeds: 3
        metric: {name: modes, goal: max}
    """)
    results = tmp_path / "res"
    store = MLflowStore(f"sqlite:///{results / 'mlflow.db'}")
    exp = store.experiment("pilot", results / "art")
    parent = store.parent_run(exp, "pilot")
    store.client.set_tag(parent, "metric", "modes (max)")
    values = {"baseline": [6, 7, 8, 8], "sn": [8, 8, 8, 7]}  # d = 2, 1, 0, −1
    for cell, vs in values.items():
        for seed, v in enumerate(vs):
            run = store.start_child(exp, parent, f"{cell} · s{seed}", {
                "ganbench.run_key": f"{cell}/{seed}", "ganbench.cell": cell,
                "status": "finished"})
            run.log_params({"seed": seed, **({"tricks": {"spectral_norm": {
                "n_power_iterations": 1}}} if cell == "sn" else {})})
            run.log_metrics({"eval/modes/final": v}, step=20)
            run.finish("FINISHED")
    result = invoke("sweep", path, "--plan-seeds", "--effect", "3", "--pilot", "pilot",
                    "--results", results)
    assert result.exit_code == 0, result.output
    (cells,) = [line.split("│")[2:4] for line in result.output.splitlines()
                if "spectral_norm" in line]
    assert cells[0].strip() == "1.53 (pilot, 4 pairs)" and cells[1].strip() == "25%"


def test_bad_options_are_one_line_naming_the_option(tmp_path):
    path = write(tmp_path / "sweep.yaml", SWEEP)
    plan = ("sweep", path, "--plan-seeds")
    assert_user_error(invoke(*plan, "--effect", "-0.5", "--sd", "1"), "--effect")
    assert_user_error(invoke(*plan, "--effect", "0.5", "--sd", "-1"), "--sd")
    assert_user_error(invoke(*plan, "--sd", "1"), "--effect")
    assert_user_error(invoke(*plan, "--effect", "0.5"), "--sd", "--pilot")
    assert_user_error(invoke(*plan, "--effect", "0.5", "--sd", "1", "--pilot", "p"), "--sd",
                      "--pilot")
    assert_user_error(invoke(*plan, "--effect", "0.5", "--sd", "1", "--power", "1.5"),
                      "--power")
    assert_user_error(invoke(*plan, "--effect", "0.5", "--pilot", "nope", "--results",
                             tmp_path / "r"), "--pilot nope", "no MLflow store")
    assert_user_error(invoke("sweep", path, "--effect", "0.5", "--dry-run"),
                      "--effect", "only with --plan-seeds")
    assert not (tmp_path / "r").exists()
