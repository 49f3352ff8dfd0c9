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


def test_an_adam_beta_written_inline_is_stored_as_start_plus_schedule():
    # R3GAN's ramp of beta2 (Huang et al. 2024): the pair keeps each start.
    cfg = RunConfig(betas=[0.0, {"start": 0.9, "end": 0.99, "shape": "cosine", "over": 50}])
    assert cfg.betas == (0.0, 0.9)
    assert cfg.schedules == {"beta2": Schedule(end=0.99, shape="cosine", over=50)}
    both = RunConfig(betas=({"start": 0.9, "end": 0.5}, {"start": 0.9, "end": 0.99}))
    assert both.betas == (0.9, 0.9)
    assert both.schedules == {"beta1": Schedule(end=0.5), "beta2": Schedule(end=0.99)}
    assert RunConfig.model_validate_json(cfg.model_dump_json()) == cfg
    # the stored form may be written too, and is the same run
    assert RunConfig(betas=(0.0, 0.9), schedules={"beta2": {
        "end": 0.99, "shape": "cosine", "over": 50}}) == cfg


def test_run_keys_unchanged_without_schedules_and_distinct_with_them():
    plain = RunConfig(lr=1e-3)
    assert "schedules" not in canonical(plain)  # every key made before schedules stays
    decayed = RunConfig(lr={"start": 1e-3, "end": 0})
    spelled = RunConfig(lr={"start": 1e-3, "end": 0, "shape": "linear"})
    assert digest(canonical(decayed)) == digest(canonical(spelled))
    assert digest(canonical(decayed)) != digest(canonical(plain))
    assert digest(canonical(RunConfig(lr={"start": 1e-3, "end": 0, "over": 50}))) != \
        digest(canonical(decayed))


def test_a_beta_schedule_is_part_of_the_run_key_and_old_keys_stay():
    # Keys of runs made before beta schedules, pinned: sweep files written then resume.
    assert digest(canonical(RunConfig())) == "54a2d670d851"
    plain = RunConfig(betas=(0.0, 0.9))
    assert digest(canonical(plain)) == "65a469910330"
    assert digest(canonical(RunConfig(lr={"start": 1e-3, "end": 0}))) == "204cdb51b27e"
    assert digest(canonical(RunConfig(betas=(0.0, 0.9), lr={"start": 1e-3, "end": 0}, tricks={
        "r1": {"gamma": {"start": 10, "end": 1}}}))) == "f48344c7e06a"
    ramped = RunConfig(betas=[0.0, {"start": 0.9, "end": 0.99}])
    assert digest(canonical(ramped)) != digest(canonical(plain))
    longer = RunConfig(betas=[0.0, {"start": 0.9, "end": 0.99, "over": 50}])
    assert digest(canonical(longer)) != digest(canonical(ramped))
    first = RunConfig(betas=[{"start": 0.0, "end": 0.99}, 0.9])  # the other beta moves
    assert canonical(first)["schedules"] == {"beta1": {"end": 0.99}}
    assert digest(canonical(first)) != digest(canonical(ramped))


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
     "schedules.gp.weight: 'gp.weight' is not a parameter of this run; lr, beta1, beta2 "
     "(Adam's betas) and the float parameters of its tricks can be scheduled (r1.gamma)"),
    ("lr: {start: 1e-3, end: 0}\nschedules:\n  lr: {end: 1e-4}\n", "?",
     "lr is scheduled both where it is written and under schedules:"),
    ("steps: 10\nbetas: [0.0, {start: 0.9, end: 1.0}]\n", 2,
     "betas.1: schedule end 1 is not an Adam beta; give one in [0, 1)"),
    ("steps: 10\nbetas:\n  - {start: 0.5, end: -0.1}\n  - 0.999\n", 3,
     "betas.0: schedule end -0.1 is not an Adam beta; give one in [0, 1)"),
    ("betas:\n  - 0.0\n  - {end: 0.99}\n", 3, "betas.1: a schedule needs start"),
    ("steps: 10\nbetas: [0.0, {start: 0.9, end: 0.99, shape: wave}]\n", 2,
     "betas.1.shape: Input should be 'linear' or 'cosine'"),
    ("steps: 10\nbetas: [0.0, {start: 0.9, end: 0.99, ovr: 5}]\n", 2,
     "betas.1.ovr: unknown field"),
    ("betas: [0.0, {start: 1.5, end: 0.99}]\n", 1, "betas: each Adam beta must be in [0, 1)"),
    ("steps: 10\nschedules:\n  beta2: {end: 1.5}\n", 3,
     "schedules.beta2: schedule end 1.5 is not an Adam beta"),
    ("schedules:\n  beta3: {end: 0.9}\n", 2,
     "schedules.beta3: 'beta3' is not a parameter of this run; lr, beta1, beta2 (Adam's "
     "betas) and the float parameters of its tricks can be scheduled"),
    ("tricks: [gradient_descent]\nbetas: [0.5, {start: 0.9, end: 0.99}]\n", 1,
     "conflict: gradient_descent: trains with SGD, which has no betas: a schedule of beta2 "
     "would move nothing"),
    ("betas: [0.0, {start: 0.9, end: 0.99}]\nschedules:\n  beta2: {end: 0.999}\n", "?",
     "beta2 is scheduled both where it is written and under schedules:"),
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


def test_cells_that_differ_by_a_beta_schedule_differ_in_their_label(tmp_path):
    path = write(tmp_path, "name: s\nbase: {steps: 20}\naxes:\n  betas:\n    - [0.0, 0.9]\n"
                 "    - [0.0, {start: 0.9, end: 0.99, shape: cosine}]\nseeds: 1\n", "s.yaml")
    cells = plan(load_sweep_spec(path)[0]).cells
    # the unscheduled pair as labels always wrote it
    assert [c.label for c in cells] == ["baseline · betas=(0.0, 0.9)",
                                        "baseline · betas=(0.0, 0.9→0.99 cosine)"]
    assert cells[1].config.schedules == {"beta2": Schedule(end=0.99, shape="cosine")}


@pytest.mark.parametrize("value, message", [
    ("lr: [2.0e-3, {start: 2.0e-3, end: -1}]", "lr: schedule end -1 is not a learning rate"),
    ("lr: [2.0e-3, {start: 2.0e-3, end: 0, shape: wave}]",
     "axes.lr.1.shape: Input should be 'linear' or 'cosine'"),
    ("betas: [[0.5, 0.999], [0.0, {start: 0.9, end: 1.0}]]",
     "betas.1: schedule end 1 is not an Adam beta"),
    ("betas: [[0.5, 0.999], [0.0, {start: 0.9, end: 0.99, shape: wave}]]",
     "axes.betas.1.1.shape: Input should be 'linear' or 'cosine'"),
])
def test_a_bad_schedule_on_an_axis_names_the_axis_line(tmp_path, value, message):
    path = write(tmp_path, f"name: s\nbase: {{steps: 20}}\naxes:\n  batch_size: [32]\n"
                 f"  {value}\nseeds: 1\n", "s.yaml")
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(path)
    first = str(e.value).splitlines()[0]
    assert first.startswith(f"{path}:5: ") and message in first, first


def test_a_cell_whose_trick_leaves_no_betas_to_schedule_is_dropped(tmp_path):
    path = write(tmp_path, "name: s\nbase:\n  steps: 20\n  betas: [0.0, {start: 0.9, end: "
                 "0.99}]\ntricks:\n  gradient_descent: [off, on]\nseeds: 1\n", "s.yaml")
    p = plan(load_sweep_spec(path)[0])
    assert [c.label for c in p.cells] == ["baseline"]
    assert [(label, why.split(" (")[0]) for label, why in p.dropped] == [
        ("gradient_descent", "gradient_descent: trains with SGD, which has no betas: a "
                             "schedule of beta2 would move nothing")]


def test_a_trick_that_sets_the_betas_itself_conflicts_with_their_schedule():
    from dataclasses import replace

    from ganbench.specs.run import check_run
    from ganbench.tricks import TRICKS
    from ganbench.tricks.base import Trick, TrickParams, register_trick

    class OwnBetas(Trick):
        """Test-only: D's Adam at betas of its own (a plugin might)."""

        def optimizers(self, spec):
            return replace(spec, d_betas=(0.0, 0.9))

    OwnBetas.Params = type("Params", (TrickParams,), {})
    conflicts = lambda cfg: [str(f) for f in check_run(cfg) if f.kind == "conflict"]  # noqa: E731
    with TRICKS.scoped():
        register_trick("test_own_betas")(OwnBetas)
        assert conflicts(RunConfig(tricks={"test_own_betas": {}})) == []
        assert conflicts(RunConfig(tricks={"test_own_betas": {}}, betas=[
            {"start": 0.5, "end": 0.0}, {"start": 0.9, "end": 0.99}])) == [
            "test_own_betas: sets Adam's betas itself: a schedule of beta1 and beta2 would "
            "move nothing (suggestion: keep betas constant with it)"]

