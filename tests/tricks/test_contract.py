"""Contract tests for every registered trick and every compatible pair of tricks.

Parametrised from `TRICKS.names()` at collection time, so a newly registered trick is
exercised here without anyone editing this file (optuna's sampler-test pattern). Test-only
tricks are registered only inside the tests that ask for them (conftest's
`scoped_test_tricks`), so the registry holds the shipped tricks alone here. What one trick
does is tested in tests/tricks/test_<name>.py; the resume contract in test_contract_resume.py.
"""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
import yaml
from helpers.tricks import horizon_caveats, run_cfg, small
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig
from ganbench.loaders import load_run_config
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.tricks import TRICKS, Finding, TrickStack
from ganbench.tricks.base import TimeConstant, Trick
from ganbench.validate import validate

LOSS_CANDIDATES = ("ns", "hinge")
# A class-conditional run: tiny labelled images on a narrow SNGAN-32.
CONDITIONAL = {"dataset": "tiny-labelled", "model": "sngan32", "conditional": True,
               "g_width": 2, "d_width": 4, "batch_size": 16}
# Where a trick is exercised: 2-D points first (fast); image-only tricks on tiny images;
# tricks only for conditional runs (Trick.conditional_only) in one.
CONTEXTS = ({"dataset": "ring8", "model": "mlp"},
            {"dataset": "tiny-images", "model": "dcgan28", "batch_size": 16}, CONDITIONAL)


def real_tricks() -> list[str]:
    """Every registered trick: test-only ones exist only inside the tests that ask for them."""
    return TRICKS.names()


def first_valid_loss(tricks: dict[str, dict], **cfg) -> str | None:
    """The first loss in LOSS_CANDIDATES for which these tricks validate, else None."""
    for loss in LOSS_CANDIDATES:
        try:
            validate(RunConfig(loss=loss, tricks=tricks,
                               **{k: v for k, v in cfg.items() if k != "batch_size"}))
        except ConfigError:
            continue
        return loss
    return None


def first_valid(tricks: dict[str, dict]) -> dict | None:
    """The first context (data, model, loss) in which these tricks validate, else None."""
    for ctx in CONTEXTS:
        if (loss := first_valid_loss(tricks, **ctx)) is not None:
            return {**ctx, "loss": loss}
    return None


SINGLES = [(name, first_valid({name: {}})) for name in real_tricks()]
PAIRS = [
    ((a, b), ctx)
    for a, b in itertools.combinations(real_tricks(), 2)
    if (ctx := first_valid({a: {}, b: {}})) is not None
]


def assert_finished_with_finite_losses(cfg: RunConfig) -> MemoryTracker:
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished", (result.diverged_step, result.diverged_term)
    assert result.steps_done == cfg.steps
    assert tracker.tags["status"] == "finished"
    train_metrics = [(s, k, v) for s, k, v in tracker.metrics if k.startswith("train/")]
    assert {k for _, k, _ in train_metrics} >= {"train/d/adv", "train/g/adv"}
    assert sorted({s for s, _, _ in train_metrics}) == list(range(1, cfg.steps + 1))
    bad = [(s, k, v) for s, k, v in train_metrics if not math.isfinite(v)]
    assert not bad
    return tracker


def test_registry_has_the_builtin_tricks():
    assert {"gradient_penalty", "label_smoothing", "spectral_norm", "ttur"} <= set(real_tricks())


def test_every_trick_is_usable_alone_in_some_context():
    unusable = [name for name, ctx in SINGLES if ctx is None]
    assert not unusable, f"tricks that validate in none of {CONTEXTS} x {LOSS_CANDIDATES}"


def test_eighteen_tricks_are_registered():  # the canon (16), pack (PacGAN) and acgan
    assert len([n for n in TRICKS.names() if not n.startswith("test_")]) == 18


# ------------------------------------------------------------------ training smoke contracts


@pytest.mark.parametrize("name,ctx", SINGLES, ids=[n for n, _ in SINGLES])
def test_single_trick_trains(tmp_path, name, ctx):
    tracker = assert_finished_with_finite_losses(small(tmp_path, **ctx, tricks={name: {}}))
    # Every named term a trick adds is logged as train/d/<term> or train/g/<term>.
    assert all(k.startswith(("train/d/", "train/g/")) for _, k, _ in tracker.metrics
               if k.startswith("train/"))


@pytest.mark.parametrize("pair,ctx", PAIRS, ids=["+".join(p) for p, _ in PAIRS])
def test_trick_pair_trains(tmp_path, pair, ctx):
    a, b = pair
    assert_finished_with_finite_losses(small(tmp_path, **ctx, tricks={a: {}, b: {}}))


def unconditional_tricks() -> list[str]:
    return [n for n in real_tricks() if not TRICKS.get(n).conditional_only]


# Tricks that conflict with class-conditional runs (a packed D input mixes classes).
NOT_CONDITIONAL = {"pack"}


@pytest.mark.parametrize("name", sorted(set(real_tricks()) - NOT_CONDITIONAL))
def test_single_trick_trains_in_a_conditional_run(tmp_path, name):
    loss = first_valid_loss({name: {}}, **CONDITIONAL)
    assert loss is not None
    assert_finished_with_finite_losses(small(tmp_path, **CONDITIONAL, loss=loss,
                                             tricks={name: {}}))


def test_conditional_runs_refuse_only_the_tricks_said_to_conflict():
    refused = {n for n in real_tricks() if first_valid_loss({n: {}}, **CONDITIONAL) is None}
    assert refused == NOT_CONDITIONAL
    # conditional_only tricks are refused everywhere else.
    only = {n for n in real_tricks() if TRICKS.get(n).conditional_only}
    assert only == {"acgan"}
    assert all(first_valid_loss({n: {}}, **ctx) is None for n in only for ctx in CONTEXTS[:2])


@pytest.mark.parametrize("name", unconditional_tricks())
def test_single_trick_trains_on_tiny_images_dcgan28(tmp_path, name):
    loss = first_valid_loss({name: {}}, dataset="tiny-images", model="dcgan28")
    assert loss is not None
    cfg = small(tmp_path, dataset="tiny-images", model="dcgan28", batch_size=16, loss=loss,
                tricks={name: {}})
    assert_finished_with_finite_losses(cfg)


def test_pairs_cover_every_compatible_combination():
    # ns is compatible with every built-in trick, so no built-in pair may be dropped.
    builtin = ["gradient_penalty", "label_smoothing", "spectral_norm", "ttur"]
    got = {p for p, _ in PAIRS}
    assert {tuple(p) for p in itertools.combinations(builtin, 2)} <= got


@pytest.mark.parametrize("dataset,model,loss", [("ring8", "mlp", "ns"),
                                                ("tiny-images", "dcgan28", "hinge")])
def test_matrix_agrees_with_what_sweep_expansion_drops(dataset, model, loss):
    from ganbench.config import SweepSpec
    from ganbench.sweep.design import PlanError, plan
    from ganbench.validate import pair_matrix

    names, verdicts = pair_matrix(dataset, model, loss)
    assert any(v == "conflict" for v in verdicts.values())
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            spec = SweepSpec.model_validate({
                "name": "m", "base": {"dataset": dataset, "model": model, "loss": loss},
                "tricks": {a: ["on"], b: ["on"]}, "seeds": 1, "metric": {"name": "modes"},
            })
            try:
                dropped = not plan(spec).cells
            except PlanError as e:
                # The one cell dropped -> "the grid is empty"; a kept image cell fails only
                # the later metric check ('modes' is for 2-D data), which is not a drop.
                assert "grid is empty" in str(e) or "does not provide" in str(e), e
                dropped = "grid is empty" in str(e)
            assert dropped == (verdicts[(a, b)] == "conflict"), (a, b, verdicts[(a, b)])


# ------------------------------------------------------------------ params and docs contracts


@pytest.mark.parametrize("name", real_tricks())
def test_params_defaults_round_trip_through_yaml(name):
    cls = TRICKS.get(name)
    params = cls.Params()
    text = yaml.safe_dump(params.model_dump())
    again = cls.Params.model_validate(yaml.safe_load(text))
    assert again == params
    assert again.model_dump() == params.model_dump()


@pytest.mark.parametrize("name", real_tricks())
def test_params_defaults_round_trip_through_a_run_file(tmp_path, name):
    cls = TRICKS.get(name)
    ctx = {k: v for k, v in first_valid({name: {}}).items() if k != "batch_size"}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**ctx, "tricks": {name: cls.Params().model_dump()}}))
    cfg = load_run_config(path)
    (trick,) = TrickStack.from_config(cfg).tricks
    assert type(trick) is cls
    assert trick.params == cls.Params()


@pytest.mark.parametrize("name", real_tricks())
def test_unknown_param_keys_are_rejected(name):
    cls = TRICKS.get(name)
    with pytest.raises(ValidationError):
        cls.Params.model_validate({"definitely_not_a_param": 1})
    with pytest.raises(ConfigError, match=rf"tricks\.{name}\.definitely_not_a_param"):
        validate(RunConfig(tricks={name: {"definitely_not_a_param": 1}}))


@pytest.mark.parametrize("name", real_tricks())
def test_params_are_frozen(name):
    params = TRICKS.get(name).Params()
    fields = list(type(params).model_fields)
    if not fields:
        pytest.skip("no parameters")
    with pytest.raises(ValidationError):
        setattr(params, fields[0], getattr(params, fields[0]))


@pytest.mark.parametrize("name", real_tricks())
def test_trick_cites_its_paper(name):
    cls = TRICKS.get(name)
    doc = cls.__doc__ or ""
    assert doc.strip(), f"{cls.__name__} has no docstring"
    assert re.search(r"\b(19|20)\d\d\b", doc), f"{cls.__name__}'s docstring names no year"
    assert isinstance(cls.paper, str) and cls.paper.strip()
    assert cls.name == name


def test_short_labels_are_set_and_unique():
    # Sweep cells are labelled by joining shorts ("sn+gp"): two equal shorts would make two
    # different cells indistinguishable in tables.
    shorts = {name: TRICKS.get(name).short for name in real_tricks()}
    assert all(s and s.strip() == s for s in shorts.values()), shorts
    assert len(set(shorts.values())) == len(shorts), shorts


@pytest.mark.parametrize("name", real_tricks())
def test_check_returns_findings_for_default_run(name):
    cls = TRICKS.get(name)
    ctx = {k: v for k, v in first_valid({name: {}}).items() if k != "batch_size"}
    findings = cls().check(RunConfig(**ctx))
    assert isinstance(findings, list)
    assert all(isinstance(f, Finding) and f.kind in ("conflict", "caveat") for f in findings)
    assert not [f for f in findings if f.kind == "conflict"]


@pytest.mark.parametrize("name", real_tricks())
def test_target_and_input_hooks_do_not_mutate_their_arguments(name):
    trick = TRICKS.get(name)()
    ones, zeros = torch.ones(8), torch.zeros(8)
    trick.d_targets(ones, zeros)
    assert torch.equal(ones, torch.ones(8)) and torch.equal(zeros, torch.zeros(8))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    real0, fake0 = real.clone(), fake.clone()
    trick.d_inputs(real, fake, 0)
    assert torch.equal(real, real0) and torch.equal(fake, fake0)


# ------------------------------------------------------------------ time constants


@pytest.mark.parametrize("name", TRICKS.names())
def test_time_constants_are_positive_steps_with_a_description(name):
    tc = TRICKS.get(name)().time_constant(run_cfg(steps=1000))
    assert tc is None or (isinstance(tc, TimeConstant) and tc.steps > 0 and tc.what)


def test_the_rule_is_generic_any_trick_declaring_a_horizon_is_flagged():
    class Slow(Trick):
        name = "slow"

        def time_constant(self, cfg):
            return TimeConstant(300, "slow settles over ~300 steps", "wait")

    found = TrickStack([Slow()]).check(run_cfg(steps=1000))
    assert [(f.kind, f.trick) for f in found] == [("caveat", "slow")]
    assert "0.3× this run's 1000 steps" in found[0].message and found[0].suggestion == "wait"
    assert TrickStack([Slow()]).check(run_cfg(steps=1200)) == []


@pytest.mark.parametrize("name,params,short,long", [
    ("r1", {"interval": 16}, 40, 1000),
    ("r2", {"interval": 16}, 40, 1000),
    ("lecam", {}, 200, 1000),
])
def test_lazy_intervals_and_anchor_horizons_are_flagged_on_short_runs(name, params, short, long):
    assert [c.split(":")[0] for c in horizon_caveats(
        run_cfg(steps=short, tricks={name: params}))] == [name]
    assert horizon_caveats(run_cfg(steps=long, tricks={name: params})) == []


def test_an_eager_penalty_and_instance_noise_declare_no_time_constant():
    cfg = run_cfg(steps=10)
    assert TRICKS.get("r1")().time_constant(cfg) is None  # interval 1: every D step
    assert TRICKS.get("instance_noise")().time_constant(cfg) is None  # a fraction of the run
