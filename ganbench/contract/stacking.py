"""The contract for a trick that says it is vectorisable: its seeds trained stacked
(train/vectorised.py) end where each seed's lone run ends, in float64 to 1e-9."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ganbench.config import RunConfig
from ganbench.contract.compare import differing_keys, first_difference
from ganbench.contract.contexts import first_setting, run_config
from ganbench.contract.result import Skip, check, require
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.vectorised import can_vectorise, train_vectorised
from ganbench.tricks import TRICKS

SEEDS = (0, 1)
REL = 1e-9  # float64: the stacking itself is exact up to ~1e-15


@contextmanager
def float64() -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def stacked_configs(name: str) -> list[RunConfig]:
    found = first_setting({name: {}})
    require(found, f"{name} validates in no contract context")
    ctx, loss = found
    return [run_config(ctx, loss, {name: {}}, steps=2, log_every=1, eval_every=1, seed=s,
                       batch_size=ctx.small_batch) for s in SEEDS]


def _history(tracker: MemoryTracker) -> list:
    return [m for m in tracker.metrics if not m[1].startswith("perf/")]


@check("stacked seeds equal lone runs")
def stacked_equals_lone(name: str) -> str | None:
    if not TRICKS.get(name).vectorisable:
        raise Skip("not declared vectorisable (its cells train seed by seed)")
    cfgs = stacked_configs(name)
    if (why := can_vectorise(cfgs[0])) is not None:
        raise Skip(why)
    with float64():
        alone = [(train(c, t), t) for c, t in ((c, MemoryTracker()) for c in cfgs)]
        trackers = [MemoryTracker() for _ in cfgs]
        stacked = train_vectorised(cfgs, trackers)
    for cfg, (a, ta), b, tb in zip(cfgs, alone, stacked, trackers, strict=True):
        seed = f"seed {cfg.seed}"
        ends = lambda r: (r.status, r.steps_done, r.diverged_step, r.diverged_term)  # noqa: E731
        require(ends(a) == ends(b), f"{seed}: stacked run ended {ends(b)}, alone {ends(a)}")
        where = first_difference(_history(ta), _history(tb), REL)
        require(where is None, f"{seed}: logged history differs: {where}")
        where = first_difference(a.metrics, b.metrics, REL)
        require(where is None, f"{seed}: final metrics differ: {where}")
        for net, x, y in (("G", a.g, b.g), ("D", a.d, b.d)):
            diff = differing_keys(x.state_dict(), y.state_dict(), REL)
            require(not diff, f"{seed}: stacked {net} differs from the lone run's in "
                              f"{', '.join(diff[:5])} (beyond {REL:g}, float64)")
    return f"{len(SEEDS)} seeds, float64, within {REL:g}"
