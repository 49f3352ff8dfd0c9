"""Issue 31, item 9: the smaller stumbles of a first contact, one test each."""

from __future__ import annotations

from helpers.cli import assert_user_error, invoke


def test_tricks_show_states_its_context_and_the_pairs(tmp_path):
    r = invoke("tricks", "show", "pack")
    assert r.exit_code == 0, r.output
    assert "the trick alone on ring8/mlp" in r.output and "tricks matrix" in r.output
    assert "in pairs on ring8/mlp, loss ns: conflict with feature_matching" in r.output


def test_tricks_list_states_its_context():
    r = invoke("tricks", "list")
    assert r.exit_code == 0, r.output
    assert "conflicts / caveats: the trick alone on ring8/mlp" in r.output


def test_a_run_setting_at_the_top_of_a_sweep_file_points_to_base(tmp_path):
    (tmp_path / "s.yaml").write_text("name: x\nbase: {dataset: ring8}\nsteps: 10\n"
                                     "tricks:\n  ttur: [off, on]\n")
    err = assert_user_error(invoke("sweep", tmp_path / "s.yaml", "--dry-run"),
                            "s.yaml:3: steps: unknown field", "base.steps")
    assert "seeds" not in err

