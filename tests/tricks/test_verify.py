"""`ganbench.contract.verify_trick`: the trick contract passes for a user's trick that keeps
it, and fails, naming the broken part, for tricks that each break one part of it (registered
inside `TRICKS.scoped()`). That it passes for every built-in trick is test_contract*.py's
job: they run the same checks, one test each."""

from __future__ import annotations

import pytest
from helpers.broken_tricks import register_broken_tricks

from ganbench.contract import TRAINED, CheckResult, verify_trick
from ganbench.contract.stacking import stacked_equals_lone
from ganbench.contract.static import documented
from ganbench.contract.training import partners
from ganbench.registry import UnknownNameError
from ganbench.tricks import TRICKS


@pytest.fixture(autouse=True)
def broken_tricks():
    with TRICKS.scoped():
        register_broken_tricks()
        yield


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


def test_a_user_trick_that_keeps_the_contract_passes_every_check():
    seen: list[CheckResult] = []
    results = verify_trick("test_counted", on_result=seen.append)
    assert seen == results
    # Not declared vectorisable: the stacking check is the one that does not apply.
    assert [(r.check, r.status) for r in results if r.status != "pass"] == [
        ("stacked seeds equal lone runs", "skip")]
    checks = by_check(results)
    # Beside every canon trick it can train with (on ring8 all of them; the image-only ones
    # on images), never beside another test trick.
    assert {f"trains beside {p}" for p in partners("test_counted")} <= set(checks)
    # acgan beside it in a conditional run; gradient_descent too (an optimiser switch)
    assert len(partners("test_counted")) == 20
    assert not [c for c in checks if c.startswith("trains beside test_")]
    assert checks["state round-trips through a checkpoint"].detail == "1 state entry"
    assert "trains alone on ring8/mlp/ns" in checks


def test_state_that_does_not_round_trip_fails_naming_it():
    results = by_check(verify_trick("test_forgetful"))
    failed = {c for c, r in results.items() if r.status == "fail"}
    assert failed == {"state round-trips through a checkpoint",
                      "checkpoint resume is bit-identical"}
    detail = results["state round-trips through a checkpoint"].detail
    assert "differs from state at count" in detail
    resume = results["checkpoint resume is bit-identical"].detail
    assert "after resuming differs from the uninterrupted run's in net." in resume


def test_state_kept_outside_state_dict_fails_the_resume():
    assert TRAINED["state_round_trip"]("test_hidden_state").status == "pass"
    r = TRAINED["resume_exact"]("test_hidden_state")
    assert r.status == "fail"
    assert "differs from the uninterrupted run's" in r.detail
    assert "state kept outside Trick.state_dict" in r.detail


def test_params_without_a_default_fail_and_skip_the_rest():
    results = verify_trick("test_no_default")
    checks = by_check(results)
    assert checks["params have defaults"].status == "fail"
    assert "without a default: weight" in checks["params have defaults"].detail
    assert checks["documented"].status == "pass"
    rest = [r for r in results if r.check not in ("documented", "params have defaults")]
    assert rest and all(r.status == "skip" for r in rest)
    assert all(r.detail == "needs parameters with defaults" for r in rest)


def test_a_false_vectorisable_claim_fails_the_stacking_check():
    r = stacked_equals_lone("test_shared_counter")
    assert r.status == "fail" and r.detail.startswith("seed 0: ")
    assert "differs" in r.detail


def test_a_trick_not_declared_vectorisable_skips_the_stacking_check():
    r = stacked_equals_lone("test_counted")
    assert (r.status, r.ok) == ("skip", True)
    assert "not declared vectorisable" in r.detail


def test_a_plugin_trick_without_a_paper_is_warned_not_failed():
    """Issue 31: a citation changes no result; a built-in trick without one still fails
    (tests/cli/test_tricks_verify.py)."""
    r = documented("test_undocumented")
    assert (r.status, r.ok) == ("warn", True)
    assert r.detail.startswith("Undocumented has no docstring")
    assert r.detail.endswith("(cite the paper, with its year)")


def test_a_check_that_raises_fails_naming_the_error(monkeypatch):
    cls = TRICKS.get("test_counted")
    monkeypatch.setattr(cls, "d_targets", lambda self, r, f: 1 / 0)
    r = by_check(verify_trick("test_counted"))["hooks leave their inputs alone"]
    assert r.status == "fail" and r.detail.startswith("raised ZeroDivisionError")


def test_an_unknown_name_gets_the_registry_message():
    with pytest.raises(UnknownNameError, match="did you mean 'spectral_norm'"):
        verify_trick("spectral_nrom")


def test_a_check_hook_that_raises_fails_the_training_checks(monkeypatch):
    cls = TRICKS.get("test_counted")
    monkeypatch.setattr(cls, "check", lambda self, cfg: [][1])
    checks = by_check(verify_trick("test_counted"))
    assert checks["trains alone"].status == "fail"
    assert checks["trains alone"].detail.startswith("raised IndexError validating it")
    assert checks["check hook and time constant"].status == "fail"
