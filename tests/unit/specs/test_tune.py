"""The tune: block: every bad input is one line naming file:line and the field, before
anything runs; a good block loads, and each cell's space leaves out what the cell does not use."""

from __future__ import annotations

import textwrap

import pytest

from ganbench.config import ConfigError
from ganbench.specs.load import load_sweep_spec
from ganbench.specs.plan import plan
from ganbench.sweep.tune_space import cell_space, configure, default_params

HEAD = """\
name: t
base: {dataset: ring8, steps: 100, lr: 2.0e-3}
tricks:
  ttur: [off, on]
  gradient_penalty: [off, on]
seeds: 2
"""


def load(tmp_path, tune: str, head: str = HEAD):
    p = tmp_path / "s.yaml"
    p.write_text(head + textwrap.dedent(tune))
    return load_sweep_spec(p), p


GOOD = """\
tune:
  budget: 4
  space:
    lr: {low: 1.0e-4, high: 5.0e-3, log: true}
    betas: [[0.5, 0.999], [0.0, 0.9]]
    tricks.gradient_penalty.weight: {low: 0.1, high: 100, log: true}
    tricks.ttur.d_lr: {low: 1.0e-4, high: 1.0e-2, log: true}
"""


def test_a_good_block_loads(tmp_path):
    (spec, _), _ = load(tmp_path, GOOD)
    assert spec.tune.budget == 4 and spec.tune.sampler == "tpe" and spec.tune.tune_seeds == 1


@pytest.mark.parametrize("tune, line, field, words", [
    ("tune:\n  budget: 4\n  space:\n    lrr: {low: 1.0e-4, high: 1.0e-2}\n", 10,
     "tune.space.lrr", "did you mean 'lr'"),
    ("tune:\n  budget: 4\n  space:\n    tricks.r1.gamma: {low: 1, high: 10}\n", 10,
     "tune.space.tricks.r1.gamma", "not in this sweep"),
    ("tune:\n  budget: 4\n  space:\n    tricks.ttur.dlr: {low: 0.1, high: 1}\n", 10,
     "tune.space.tricks.ttur.dlr", "no parameter 'dlr'"),
    ("tune:\n  budget: 4\n  space:\n    lr: {low: 1.0e-2, high: 1.0e-3}\n", 10,
     "tune.space.lr.low", "must be below high"),
    ("tune:\n  budget: 4\n  space:\n    tricks.gradient_penalty.weight: {low: 0, high: 10,"
     " log: true}\n", 10, "tune.space.tricks.gradient_penalty.weight.low", "above 0"),
    ("tune:\n  budget: 0\n  space:\n    lr: [1.0e-3]\n", 8, "tune.budget", "greater than 0"),
    ("tune:\n  budget: 4\n  sampler: grid\n  space:\n    lr: {low: 1.0e-4, high: 1.0e-2}\n",
     11, "tune.space.lr", "grid sampler needs a list"),
    ("tune:\n  budget: 4\n  space:\n    seed: [1, 2]\n", 10, "tune.space.seed",
     "cannot be searched"),
    ("tune:\n  budget: 4\n  space:\n    lr: {low: 0, high: 1.0e-2}\n", 10, "tune.space.lr.low",
     "not a valid value"),
])
def test_bad_input_is_one_line_with_its_place(tmp_path, tune, line, field, words):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, tune)
    msg = str(e.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{tmp_path / 's.yaml'}:{line}: {field}:"), msg
    assert words in msg, msg


def test_levels_may_give_a_default_but_not_sweep_a_searched_parameter(tmp_path):
    tune = "tune:\n  budget: 2\n  space:\n    tricks.ttur.d_lr: [1.0e-3, 4.0e-3]\n"
    one = HEAD.replace("ttur: [off, on]", "ttur: [off, {d_lr: 4.0e-3}]")
    (spec, _), _ = load(tmp_path, tune, one)
    cell = next(c for c in plan(spec).cells if c.label == "ttur")
    assert default_params(cell.config, cell_space(spec, cell))[0] == {"tricks.ttur.d_lr": 4e-3}
    two = HEAD.replace("ttur: [off, on]", "ttur: [off, {d_lr: 4.0e-3}, {d_lr: 1.0e-3}]")
    with pytest.raises(ConfigError, match=r"s\.yaml:10: tune\.space\.tricks\.ttur\.d_lr: "
                       "ttur's levels differ in d_lr"):
        load(tmp_path, tune, two)


def test_a_cell_with_nothing_to_search_is_refused(tmp_path):
    from ganbench.sweep.runner import load_plan

    # TTUR's absolute form sets its own rates (its default form scales the base lr).
    head = HEAD.replace("ttur: [off, on]", "ttur: [off, {d_lr: 4.0e-4, g_lr: 1.0e-4}]")
    _, p = load(tmp_path, "tune:\n  budget: 2\n  space:\n    lr: [1.0e-3, 2.0e-3]\n", head)
    with pytest.raises(ConfigError, match=r"s\.yaml:9: tune\.space: cell\(s\) ttur, gp\+ttur "
                       "use none"):
        load_plan(p)


def test_final_seeds_must_not_be_search_seeds(tmp_path):
    head = HEAD.replace("seeds: 2", "seeds: [0, 1000000]")
    with pytest.raises(ConfigError, match=r"s\.yaml:6: seeds: 1000000 is a search seed"):
        load(tmp_path, "tune:\n  budget: 2\n  space:\n    lr: [1.0e-3, 2.0e-3]\n", head)


def test_each_cell_searches_only_what_it_uses(tmp_path):
    (spec, _), _ = load(tmp_path, GOOD)
    p = plan(spec)
    spaces = {c.label: set(cell_space(spec, c)) for c in p.cells}
    gp = "tricks.gradient_penalty.weight"
    assert spaces["baseline"] == {"lr", "betas"}  # no GP weight, no TTUR rate
    # A searched d_lr makes TTUR's rates absolute: the base lr does nothing there.
    assert spaces["ttur"] == {"betas", "tricks.ttur.d_lr"}
    assert gp in spaces["gp"] and "lr" in spaces["gp"]
    assert spaces["gp+ttur"] == {"betas", gp, "tricks.ttur.d_lr"}


def test_defaults_are_trial_zero_only_inside_the_space(tmp_path):
    (spec, _), _ = load(tmp_path, GOOD)
    cells = {c.label: c for c in plan(spec).cells}
    space = cell_space(spec, cells["gp"])
    got, why = default_params(cells["gp"].config, space)
    assert got["lr"] == 2e-3 and got["betas"] == [0.5, 0.999] and why == ""
    outside = {**space, "lr": {"low": 1e-2, "high": 1e-1, "log": True, "int": False}}
    got, why = default_params(cells["gp"].config, outside)
    assert got is None and "lr" in why


def test_sampled_values_configure_the_run(tmp_path):
    (spec, _), _ = load(tmp_path, GOOD)
    cell = next(c for c in plan(spec).cells if c.label == "gp+ttur")
    cfg = configure(cell.config, {"betas": [0.0, 0.9], "tricks.ttur.d_lr": 0.003,
                                  "tricks.gradient_penalty.weight": 3.0}, seed=7)
    assert cfg.betas == (0.0, 0.9) and cfg.seed == 7
    assert cfg.tricks["ttur"] == {"d_lr": 0.003, "g_lr": 1e-4}  # `on` + d_lr: absolute
    assert cfg.tricks["gradient_penalty"]["weight"] == 3.0


def test_ttur_on_searches_the_base_lr(tmp_path):
    # The default form scales the base lr: searching lr moves both rates, ratio kept.
    (spec, _), _ = load(tmp_path, "tune:\n  budget: 2\n  space:\n    lr: [1.0e-3, 2.0e-3]\n")
    cell = next(c for c in plan(spec).cells if c.label == "ttur")
    assert set(cell_space(spec, cell)) == {"lr"}
    cfg = configure(cell.config, {"lr": 1e-3}, seed=0)
    assert cfg.tricks["ttur"] == {"ratio": 4.0} and cfg.lr == 1e-3
