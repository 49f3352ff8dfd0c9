"""The trick contract, runnable on any registered trick (a plugin's or a notebook's too):
`verify_trick(name)` returns one `CheckResult` per check, and `ganbench tricks verify NAME`
prints them. The project's contract tests (tests/tricks/test_contract*.py) call the same
checks, one test each.

Everything runs on CPU on tiny configs (ring8/mlp, else synthetic 28x28 images on dcgan28)
in seconds per trick: 2 steps alone and beside every compatible canon trick, parameters
(defaults, YAML round-trip, closed and frozen), the check hook and time constant, pure
input hooks, declared conflicts against what the sweep planner drops, the trick's state
through a checkpoint and a bit-identical resume, for a trick declared vectorisable,
stacked seeds equal to lone runs (float64, 1e-9), and each float parameter a schedule may
move acting from the step it is set.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganbench.contract.contexts import CONTEXTS, Context, canon, contract_data
from ganbench.contract.result import CheckResult, one_line
from ganbench.contract.stacking import stacked_equals_lone
from ganbench.contract.static import (
    check_hook,
    conflicts_match_planner,
    documented,
    hooks_pure,
    params_closed,
    params_have_defaults,
    params_round_trip,
)
from ganbench.contract.training import (
    alone_settings,
    partners,
    resume_exact,
    schedulable_params,
    state_round_trip,
    trains_alone,
    trains_beside,
)
from ganbench.tricks import TRICKS

# The checks of one trick that take only its name, in the order `verify_trick` runs them
# (the training ones, alone and beside each partner, come between these and TRAINED).
STATIC: dict[str, Callable[[str], CheckResult]] = {
    "documented": documented,
    "params_have_defaults": params_have_defaults,
    "params_round_trip": params_round_trip,
    "params_closed": params_closed,
    "check_hook": check_hook,
    "hooks_pure": hooks_pure,
    "conflicts_match_planner": conflicts_match_planner,
}
TRAINED: dict[str, Callable[[str], CheckResult]] = {
    "state_round_trip": state_round_trip,
    "resume_exact": resume_exact,
    "stacked_equals_lone": stacked_equals_lone,
    "schedulable_params": schedulable_params,
}
NEED_NO_DEFAULTS = ("documented", "params_have_defaults")


def verify_trick(name: str, on_result: Callable[[CheckResult], None] | None = None
                 ) -> list[CheckResult]:
    """Run the whole contract on the registered trick `name` (UnknownNameError, with the
    registry's "did you mean", for another name); `on_result` hears each result as it
    comes. A trick whose parameters lack defaults fails that check and skips the rest."""
    TRICKS.get(name)
    threads = torch.get_num_threads()
    # Tiny nets gain nothing from intra-op threads; on a busy machine they cost 10-100x.
    torch.set_num_threads(1)
    try:
        return _verify(name, on_result)
    finally:
        torch.set_num_threads(threads)


def _verify(name: str, on_result: Callable[[CheckResult], None] | None) -> list[CheckResult]:
    results: list[CheckResult] = []

    def add(r: CheckResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    with contract_data():
        for key in NEED_NO_DEFAULTS:
            add(STATIC[key](name))
        if results[-1].status == "fail":  # every other check builds the default params
            rest = [f for k, f in STATIC.items() if k not in NEED_NO_DEFAULTS]
            for fn in [*rest, *TRAINED.values()]:
                add(CheckResult(name, fn.title, "skip", "needs parameters with defaults"))
            add(CheckResult(name, "trains alone and beside the built-in tricks", "skip",
                            "needs parameters with defaults"))
            return results
        for key in STATIC:
            if key not in NEED_NO_DEFAULTS:
                add(STATIC[key](name))
        try:  # a check() that raises is the trick's fault: a failed check, not a crash
            found, others = alone_settings(name), partners(name)
        except Exception as e:
            add(CheckResult(name, "trains alone", "fail",
                            one_line(f"raised {type(e).__name__} validating it: {e}")))
            found, others = [], []
        else:
            if not found:
                add(CheckResult(name, "trains alone", "fail", "validates in no contract "
                                f"context ({', '.join(c.label for c in CONTEXTS)}; loss ns or "
                                "hinge)"))
        for ctx, loss in found:
            add(trains_alone(name, ctx, loss))
        for partner in others:
            add(trains_beside(name, partner))
        for check in TRAINED.values():
            add(check(name))
    return results


__all__ = ["CONTEXTS", "STATIC", "TRAINED", "CheckResult", "Context", "alone_settings",
           "canon", "partners", "trains_alone", "trains_beside", "verify_trick"]
