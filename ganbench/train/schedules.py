"""A run's schedules (ganbench/schedules.py) as training applies them: before each step,
the optimisers' rates and Adam betas and the tricks' parameters are set to their values for
that step."""

from __future__ import annotations

import torch

from ganbench.config import RunConfig
from ganbench.schedules import RUN_PARAMS
from ganbench.tricks import TRICKS, TrickStack
from ganbench.tricks.base import OptimSpec


class RunSchedules:
    """The schedules of one config, with each parameter's start (the value it was built
    with). Empty (falsy) for a run without any."""

    def __init__(self, cfg: RunConfig) -> None:
        self.steps, self.lr = cfg.steps, cfg.lr
        self.items = []
        for key, schedule in sorted(cfg.schedules.items()):
            if key == "lr":
                start = cfg.lr
            elif key in RUN_PARAMS:  # ("betas", i): Adam's beta i + 1
                start = cfg.betas[RUN_PARAMS[key][1]]
            else:  # the trick's typed params: its default where the config leaves it out
                trick, param = key.split(".", 1)
                start = getattr(TRICKS.get(trick).Params.model_validate(cfg.tricks[trick]),
                                param)
            self.items.append((key, float(start), schedule))

    def __bool__(self) -> bool:
        return bool(self.items)

    def values(self, step: int) -> dict[str, float]:
        """{key: the value used in step `step`} (0-based)."""
        return {key: s.value(start, step, self.steps) for key, start, s in self.items}

    def apply(self, step: int, optim: OptimSpec, opt_g: torch.optim.Optimizer,
              opt_d: torch.optim.Optimizer, stacks: list[TrickStack]) -> None:
        """Set the rates, betas and trick parameters of step `step`. The lr schedule scales
        the rates the tricks made of `lr` (a D and a G rate that differ, in any form) by
        lr(step)/lr, so their ratio holds while they move. A beta schedule sets that beta
        of both Adams: no trick of the run changes the betas (specs/run.py refuses one)."""
        for key, value in self.values(step).items():
            if key == "lr":
                scale = value / self.lr
                for opt, rate in ((opt_g, optim.g_lr), (opt_d, optim.d_lr)):
                    for group in opt.param_groups:
                        group["lr"] = rate * scale
            elif key in RUN_PARAMS:
                i = RUN_PARAMS[key][1]
                for opt in (opt_g, opt_d):
                    for group in opt.param_groups:
                        betas = list(group["betas"])
                        betas[i] = value
                        group["betas"] = tuple(betas)
            else:
                trick, param = key.split(".", 1)
                for stack in stacks:
                    stack.set_param(trick, param, value)
