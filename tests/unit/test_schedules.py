"""Schedules in run and sweep files: what they mean, how they are written and stored, run
keys, and file:line errors for every way to get one wrong."""

from __future__ import annotations

import math

import pytest

from ganbench.config import ConfigError, RunConfig
from ganbench.schedules import Schedule
from ganbench.specs.load import load_run_config, load_sweep_spec
from ganbench.specs.plan import canonical, digest, plan


def test_linear_to_zero_is_mimicrys_decay():
    # Mimicry's linear decay over num_steps: lr * (1 - step / num_steps) at each step.
    s = Schedule(end=0.0)
    assert [s.value(2e-4, t, 100) for t in (0, 1, 50, 99)] == pytest.approx(
        [2e-4 * (1 - t / 100) for t in (0, 1, 50, 99)], rel=1e-12)


def test_cosine_and_over():
    s = Schedule(end=1.0, shape="cosine", over=10)
    assert s.value(10.0, 0, 100) == 10.0
    assert s.value(10.0, 5, 100) == pytest.approx(5.5)  # half way: the mean of both ends
    assert s.value(10.0, 1, 100) == pytest.approx(10 - 9 * (1 - math.cos(math.pi / 10)) / 2)
    assert s.value(10.0, 10, 100) == s.value(10.0, 99, 100) == 1.0  # held after `over`


def test_inline_forms_are_stored_as_start_plus_schedule():
    cfg = RunConfig(lr={"start": 1e-3, "end": 0}, tricks={"r1": {"gamma": {
        "start": 10, "end": 1, "shape": "cosine"}}})
    assert cfg.lr == 1e-3 and cfg.tricks["r1"] == {"gamma": 10}
    assert cfg.schedules == {"lr": Schedule(end=0), "r1.gamma": Schedule(end=1, shape="cosine")}
    assert RunConfig.model_validate_json(cfg.model_dump_json()) == cfg  # workers, checkpoints


def test_run_keys_unchanged_without_schedules_and_distinct_with_them():
    plain = RunConfig(lr=1e-3)
    assert "schedules" not in canonical(plain)  # every key made before schedules stays
    decayed = RunConfig(lr={"start": 1e-3, "end": 0})
    spelled = RunConfig(lr={"start": 1e-3, "end": 0, "shape": "linear"})
    assert digest(canonical(decayed)) == digest(canonical(spelled))
    assert digest(canonical(decayed)) != digest(canonical(plain))
    assert digest(canonical(RunConfig(lr={"start": 1e-3, "end": 0, "over": 50}))) != \
        digest(canonical(decayed))


def write(tmp_path, text: str, name: str = "run.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, line, message", [
    ("steps: 10\nlr: {start: 2e-4, end: -1}\n", 2,
     "lr: schedule end -1 is not a learning rate"),
    ("lr: {end: 0}\n", 1, "lr: a schedule needs start"),
    ("steps: 10\nlr: {start: 2e-4, end: 0, shape: wave}\n", 2,
     "lr.shape: Input should be 'linear' or 'cosine'"),
    ("tricks:\n  r1:\n    gamma: {start: 10, end: 0}\n", 3,
     "tricks.r1.gamma: schedule end 0: Input should be greater than 0"),
    ("tricks:\n  ttur:\n    ratio: {start: 4, end: 1}\n", 3,
     "tricks.ttur.ratio: cannot be scheduled: it is read only when the run is built"),
    ("tricks: {r1: {}}\nschedules:\n  r1.gama: {end: 1}\n", 3,
     "schedules.r1.gama: cannot be scheduled: it has no such parameter; did you mean "
     "r1.gamma?"),
    ("tricks: {r1: {}}\nschedules:\n  gp.weight: {end: 1}\n", 3,
     "schedules.gp.weight: 'gp.weight' is not a parameter of this run; lr and the float "
     "parameters of its tricks can be scheduled (r1.gamma)"),
    ("lr: {start: 1e-3, end: 0}\nschedules:\n  lr: {end: 1e-4}\n", "?",
     "lr is scheduled both where it is written and under schedules:"),
])
def test_errors_name_the_file_line_and_field(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_run_config(path)
    first = str(e.value).splitlines()[0]
    assert message in first
    if line != "?":
        assert first.startswith(f"{path}:{line}: ")


SWEEP = """\
name: sched
base:
  steps: 20
  lr: {{start: 2.0e-3, end: 0}}
tricks:
  r1: [off, {level}]
axes:
  batch_size: [32, 64]
seeds: 2
"""


def test_a_sweep_takes_schedules_in_base_and_in_trick_levels(tmp_path):
    spec, _ = load_sweep_spec(write(tmp_path, SWEEP.format(level="{gamma: {start: 10, end: 1}}"),
                                 "s.yaml"))
    p = plan(spec)
    with_r1 = [c for c in p.cells if c.tricks]
    assert all(c.config.schedules["lr"] == Schedule(end=0) for c in p.cells)
    assert all(c.config.schedules["r1.gamma"] == Schedule(end=1) for c in with_r1)
    assert all(c.config.tricks["r1"]["gamma"] == 10 for c in with_r1)


def test_a_schedule_on_a_base_trick_reaches_every_cell(tmp_path):
    # base.tricks is validated alone first (its errors name base.tricks); that moved its
    # schedules out and the cells trained at the start value, the schedule silently lost.
    text = ("name: s\nbase:\n  steps: 20\n  tricks:\n    r1: {gamma: {start: 10, end: 1, "
            "shape: cosine, over: 5}}\ntricks:\n  r2: [off, on]\nseeds: 1\n")
    cells = plan(load_sweep_spec(write(tmp_path, text, "s.yaml"))[0]).cells
    assert len(cells) == 2
    for c in cells:
        assert c.config.tricks["r1"]["gamma"] == 10
        assert c.config.schedules["r1.gamma"] == Schedule(end=1, shape="cosine", over=5)
    with_r2 = [c for c in cells if "r2" in c.config.tricks]
    assert len(with_r2) == 1 and "r2.gamma" not in with_r2[0].config.schedules


def test_a_bad_schedule_in_a_trick_level_names_its_line(tmp_path):
    path = write(tmp_path, SWEEP.format(level="{gamma: {start: 10, end: -1}}"), "s.yaml")
    with pytest.raises(ConfigError, match=r"s\.yaml:6: tricks\.r1\.1\.gamma: schedule end -1"):
        load_sweep_spec(path)


def test_cells_that_differ_by_a_schedule_differ_in_their_label(tmp_path):
    path = write(tmp_path, "name: s\nbase: {steps: 20}\naxes:\n  lr: [2.0e-3, {start: 2.0e-3, "
                 "end: 0}]\nseeds: 1\n", "s.yaml")
    labels = [c.label for c in plan(load_sweep_spec(path)[0]).cells]
    assert labels == ["baseline · lr=0.002", "baseline · lr=0.002→0"]
