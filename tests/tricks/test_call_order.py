"""The call order the Trick base documents is the order training calls its hooks."""

from __future__ import annotations

import re

import pytest

import ganbench
from ganbench.tricks import TRICKS, Trick
from ganbench.tricks.base import register

HOOKS = ("check", "findings", "time_constant", "identity_params", "model_options", "build",
         "optimizers", "d_targets", "d_inputs", "d_terms", "g_terms", "d_steps", "after_step",
         "eval_generator", "stacked_template", "state_dict", "load_state_dict")


def documented(phase: str) -> list[str]:
    """The hooks named, in order, on the docstring's line for `phase`."""
    doc = Trick.__doc__ or ""
    m = re.search(rf"^\s*- {re.escape(phase)}:(.*?)(?=^\s*- |\n\n|\Z)", doc, re.M | re.S)
    assert m, f"Trick's docstring has no '- {phase}:' line"
    return re.findall(r"`(\w+)`", m.group(1))


def recorded(steps: int, n_critic: int) -> list[str]:
    """The hooks a lone run of `steps` steps calls, consecutive repeats collapsed."""
    calls: list[str] = []

    def spy(hook: str):
        def f(self, *args, **kwargs):
            calls.append(hook)
            return getattr(Trick, hook)(self, *args, **kwargs)
        return f

    spy_cls = type("Spy", (Trick,), {h: spy(h) for h in HOOKS})
    spy_cls.d_steps = lambda self: (calls.append("d_steps"), n_critic)[1]
    with TRICKS.scoped():
        register("zz_spy")(spy_cls)
        ganbench.train({"dataset": "ring8", "tricks": ["zz_spy"], "steps": steps,
                        "batch_size": 16, "eval_samples": 64, "eval_every": steps,
                        "device": "cpu"})
    return [c for i, c in enumerate(calls) if i == 0 or calls[i - 1] != c]


def test_every_hook_is_documented_once():
    named = [h for phase in ("config check", "build, once per run", "each training step",
                             "each evaluation (and the samples)") for h in documented(phase)]
    assert sorted(set(named)) == sorted(HOOKS)


def test_build_hooks_come_in_the_documented_order():
    got = recorded(steps=2, n_critic=1)
    build = [h for h in documented("build, once per run")
             if h not in ("load_state_dict", "stacked_template")]  # resumed / stacked runs
    first = [h for h in dict.fromkeys(got) if h in build]
    assert first == build


@pytest.mark.parametrize("n_critic", [1, 2])
def test_a_training_step_calls_its_hooks_in_the_documented_order(n_critic):
    step_doc = documented("each training step")
    d_part = step_doc[:step_doc.index("d_inputs", 1)]  # d_inputs, d_targets, d_terms
    g_part = step_doc[len(d_part):]  # d_inputs, g_terms, after_step
    per_step = [h for h in recorded(steps=3, n_critic=n_critic) if h in step_doc]
    assert per_step == (d_part * n_critic + g_part) * 3


def test_evaluation_reads_the_eval_generator_after_the_steps():
    got = recorded(steps=2, n_critic=1)
    assert "eval_generator" in documented("each evaluation (and the samples)")
    assert got[-1] == "eval_generator"  # the final evaluation, after the last G step
