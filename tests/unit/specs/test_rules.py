"""The grid's rules are written once (specs/rules.py) and both callers apply them: the file
check reports every problem with its file:line, and the planner refuses a spec built in code
with the first of the same problems, in the same words."""

from __future__ import annotations

import textwrap

import pytest

from ganbench.config import ConfigError, SweepSpec
from ganbench.specs.load import load_sweep_spec
from ganbench.specs.plan import PlanError, plan
from ganbench.specs.rules import RESERVED_AXES, grid_problems

BASE = {"dataset": "ring8", "steps": 4, "batch_size": 8}

# (what is wrong, the sweep's fields, the field path of the problem, words of its message)
BAD = [
    ("axis not a setting", {"axes": {"lss": ["ns"]}}, "axes.lss", "did you mean 'loss'"),
    ("axis reserved", {"axes": {"seed": [1, 2]}}, "axes.seed", "cannot be an axis"),
    ("axis empty", {"axes": {"steps": []}}, "axes.steps", "at least one value"),
    ("trick unknown", {"tricks": {"tturr": ["off", "on"]}}, "tricks.tturr", "ttur"),
    ("no levels", {"tricks": {"ttur": []}}, "tricks.ttur", "at least one level"),
    ("level a word", {"tricks": {"ttur": ["off", "yes"]}}, "tricks.ttur.1",
     "off, on or a mapping"),
    ("param unknown", {"tricks": {"gradient_penalty": [{"wieght": 1}]}},
     "tricks.gradient_penalty.0.wieght", "did you mean 'weight'"),
    ("param out of range", {"tricks": {"gradient_penalty": [{"weight": -1}]}},
     "tricks.gradient_penalty.0.weight", "greater than"),
    ("base seed", {"base": {**BASE, "seed": 3}}, "base.seed", "seeds: [3]"),
    ("swept and base", {"base": {**BASE, "tricks": ["ttur"]}, "tricks": {"ttur": ["off", "on"]}},
     "tricks.ttur", "also listed in base.tricks"),
    ("swept and base (mapping)",
     {"base": {**BASE, "tricks": {"ttur": {}}}, "tricks": {"ttur": ["off", "on"]}},
     "tricks.ttur", "also listed in base.tricks"),
]


def _spec(fields: dict) -> SweepSpec:
    return SweepSpec.model_validate({"name": "r", "base": BASE,
                                     "tricks": {"ttur": ["off", "on"]}, **fields})


@pytest.mark.parametrize("fields,field,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_planner_refuses_with_the_rules_first_problem(fields, field, words):
    spec = _spec(fields)
    _, problems = grid_problems(spec)
    assert problems, "the rule found nothing"
    (loc, msg) = problems[0]
    assert ".".join(map(str, loc)) == field and words in msg
    with pytest.raises(PlanError) as e:
        plan(spec)
    assert (e.value.loc, e.value.message) == (loc, msg)


@pytest.mark.parametrize("fields,field,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_file_check_places_the_same_problem_on_its_line(tmp_path, fields, field, words):
    import yaml
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "r", "base": BASE,
                                 "tricks": {"ttur": ["off", "on"]}, **fields},
                                sort_keys=False))
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(p)
    line = next(x for x in str(e.value).splitlines() if f": {field}: " in x)
    assert line.startswith(f"{p}:") and words in line
    n = int(line[len(str(p)) + 1:].split(":")[0])
    assert n > 1  # the problem's own line, not the top of the file


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent("""\
        name: r
        base: {dataset: ring8, steps: 4}
        tricks:
          ttur: [off, maybe]
          gradient_penalty: [{wieght: 1, weight: -1}]
        axes:
          seed: [1, 2]
        """))
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(p)
    text = str(e.value)
    for where in (":4: tricks.ttur.1:", ":5: tricks.gradient_penalty.0.wieght:",
                  ":5: tricks.gradient_penalty.0.weight:", ":7: axes.seed:"):
        assert where in text, text


def test_a_good_grid_breaks_no_rule_and_its_levels_are_read():
    spec = _spec({"tricks": {"ttur": ["off", "on"], "gradient_penalty": ["off", {"weight": 5}]}})
    levels, problems = grid_problems(spec)
    assert problems == []
    assert levels == {"ttur": [None, {}], "gradient_penalty": [None, {"weight": 5}]}


def test_reserved_axes_are_run_fields_a_sweep_sets_itself():
    from ganbench.config import RunConfig
    assert set(RESERVED_AXES) <= set(RunConfig.model_fields)
