"""Contract tests for every registered trick and every compatible pair of tricks.

The checks are `ganbench tricks verify`'s own (ganbench/contract/), one test per check and
trick (and per pair), so a failure names the check and its broken part. Parametrised from
`TRICKS.names()` at collection time, so a newly registered trick is exercised here without
anyone editing this file (optuna's sampler-test pattern). Test-only tricks are registered only
inside the tests that ask for them (conftest's `scoped_test_tricks`), so the registry holds
the shipped tricks alone here. What one trick does is tested in tests/tricks/test_<name>.py;
the resume contract in test_contract_resume.py; the verify command in test_verify.py.
"""

from __future__ import annotations

import itertools

import pytest
from helpers.tricks import horizon_caveats, run_cfg

from ganbench.contract import STATIC, alone_settings, trains_alone, trains_beside
from ganbench.contract.contexts import (
    CONDITIONAL,
    CONFLICT_SETTINGS,
    CONTEXTS,
    IMAGES,
    POINTS,
    contract_data,
    first_loss,
    first_setting,
)
from ganbench.contract.stacking import stacked_equals_lone
from ganbench.contract.static import conflicts_match_planner, declared_conflict
from ganbench.tricks import TRICKS, TrickStack
from ganbench.tricks.base import TimeConstant, Trick


def real_tricks() -> list[str]:
    """Every registered trick: test-only ones exist only inside the tests that ask for them."""
    return TRICKS.names()


SINGLES = [(name, ctx, loss) for name in real_tricks() for ctx, loss in alone_settings(name)]
PAIRS = [(a, b) for a, b in itertools.combinations(real_tricks(), 2)
         if first_setting({a: {}, b: {}}) is not None]
# The checks that take only a trick's name; conflicts with the planner run per pair below.
PER_TRICK = [(name, key) for name in real_tricks() for key in STATIC
             if key != "conflicts_match_planner"]


def passes(result) -> None:
    if result.status == "skip":
        pytest.skip(result.detail)
    assert result.status == "pass", f"{result.check}: {result.detail}"


def test_registry_has_the_builtin_tricks():
    assert {"gradient_penalty", "label_smoothing", "spectral_norm", "ttur"} <= set(real_tricks())


def test_every_trick_is_usable_alone_in_some_context():
    usable = {name for name, _, _ in SINGLES}
    unusable = [name for name in real_tricks() if name not in usable]
    assert not unusable, f"tricks that validate in none of {CONTEXTS}"


def test_every_trick_validates_on_images():
    unconditional = [n for n in real_tricks() if not TRICKS.get(n).conditional_only]
    assert [n for n in unconditional if first_loss(IMAGES, {n: {}}) is None] == []


def test_conditional_runs_refuse_only_the_tricks_said_to_conflict():
    refused = {n for n in real_tricks() if first_loss(CONDITIONAL, {n: {}}) is None}
    assert refused == {"pack"}  # a packed D input mixes classes
    only = {n for n in real_tricks() if TRICKS.get(n).conditional_only}
    assert only == {"acgan"}
    assert all(first_loss(ctx, {n: {}}) is None for n in only for ctx in (POINTS, IMAGES))


def test_twenty_tricks_are_registered():
    # the canon (17), pack (PacGAN), acgan and gradient_descent (the Dirac-GAN's optimiser)
    assert len([n for n in TRICKS.names() if not n.startswith("test_")]) == 20


# ------------------------------------------------------------------ training smoke contracts


@pytest.mark.parametrize("name,ctx,loss", SINGLES,
                         ids=[f"{n}-{c.model}" for n, c, _ in SINGLES])
def test_single_trick_trains(name, ctx, loss):
    # 2 steps, finished, finite losses, every step logged, terms under train/d/ or train/g/.
    passes(trains_alone(name, ctx, loss))


@pytest.mark.parametrize("pair", PAIRS, ids=["+".join(p) for p in PAIRS])
def test_trick_pair_trains(pair):
    passes(trains_beside(*pair))


def test_pairs_cover_every_compatible_combination():
    # ns is compatible with every built-in trick, so no built-in pair may be dropped.
    builtin = ["gradient_penalty", "label_smoothing", "spectral_norm", "ttur"]
    assert {tuple(p) for p in itertools.combinations(builtin, 2)} <= set(PAIRS)


@pytest.mark.parametrize("name", [n for n in real_tricks() if TRICKS.get(n).vectorisable])
def test_stacked_seeds_equal_lone_runs(name):
    passes(stacked_equals_lone(name))


# ------------------------------------------------------------------ conflicts and the planner


@pytest.mark.parametrize("name", real_tricks())
def test_alone_conflicts_match_what_the_planner_drops(name):
    passes(conflicts_match_planner(name, name))


@pytest.mark.parametrize("pair", list(itertools.combinations(real_tricks(), 2)),
                         ids="+".join)
def test_pair_conflicts_match_what_the_planner_drops(pair):
    passes(conflicts_match_planner(*pair))


def test_the_matrix_shows_the_declared_conflicts():
    from ganbench.specs.run import pair_matrix

    with contract_data():
        for ctx, loss in CONFLICT_SETTINGS:
            names, verdicts = pair_matrix(ctx.dataset, ctx.model, loss)
            assert any(v == "conflict" for v in verdicts.values())
            for a, b in itertools.combinations_with_replacement(names, 2):
                assert (verdicts[(a, b)] == "conflict") == declared_conflict(
                    ctx, loss, {a: {}, b: {}}), (a, b)


# ------------------------------------------------------------------ params, docs and hooks


@pytest.mark.parametrize("name,key", PER_TRICK, ids=[f"{n}-{k}" for n, k in PER_TRICK])
def test_trick_contract(name, key):
    # documented (docstring with a year, paper, name); params with defaults that round-trip
    # through YAML and a run file, closed to unknown keys and frozen; check() returns
    # findings, no conflict in its own context, a sane time constant; input hooks pure.
    passes(STATIC[key](name))


def test_short_labels_are_set_and_unique():
    # Sweep cells are labelled by joining shorts ("sn+gp"): two equal shorts would make two
    # different cells indistinguishable in tables.
    shorts = {name: TRICKS.get(name).short for name in real_tricks()}
    assert all(s and s.strip() == s for s in shorts.values()), shorts
    assert len(set(shorts.values())) == len(shorts), shorts


# ------------------------------------------------------------------ time constants


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
