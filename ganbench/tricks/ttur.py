from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from pydantic import Field, model_serializer, model_validator

from ganbench.tricks.base import OptimSpec, Trick, TrickParams, register

# SAGAN's absolute rates: what `{d_lr: ...}` alone fills the other one with, as before ratios.
SAGAN_D_LR, SAGAN_G_LR = 4e-4, 1e-4
DEFAULT_RATIO = 4.0  # SAGAN's d_lr / g_lr


@register("ttur")
class TTUR(Trick):
    """Two time-scale update rule (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium"): D learns faster than G.

    Default form, around the run's own `lr`: d_lr = lr·sqrt(ratio), g_lr = lr/sqrt(ratio),
    so D/G = ratio and their geometric mean stays `lr` (the row measures the split, not a
    smaller or larger step). ratio 4 is SAGAN's (Zhang et al. 2019, "Self-Attention
    Generative Adversarial Networks", arXiv:1805.08318, the setting most later work copies):
    at the common base lr 2e-4, `ttur: on` is exactly SAGAN's d_lr 4e-4, g_lr 1e-4.

    Absolute form, `{d_lr: ..., g_lr: ...}` (Heusel et al. tuned the two rates per data set):
    the rates as given, whatever `lr` is; one left out is SAGAN's. `ratio` with either is
    refused. A run's key holds the rates either form resolves to (`identity_params`), so
    `on` at lr 2e-4 and `{d_lr: 4e-4, g_lr: 1e-4}` are one run, as they were before ratios."""

    paper = "Heusel et al. 2017, arXiv:1706.08500; ratio 4: Zhang et al. 2019 (SAGAN)"
    # they make the optimisers' rates, once; an lr schedule scales those rates
    fixed_params = frozenset({"ratio", "d_lr", "g_lr"})
    vectorisable = True

    class Params(TrickParams):
        # None in the absolute form. At its default 4.0 the ratio is left out of a dump with
        # exclude_defaults, so a tuned d_lr can replace the default form (tune_space.py).
        ratio: float | None = Field(DEFAULT_RATIO, gt=0, le=1e4,
                                    description="d_lr/g_lr around the run's lr")
        d_lr: float | None = Field(None, gt=0, le=1, description="absolute rate of D")
        g_lr: float | None = Field(None, gt=0, le=1, description="absolute rate of G")

        @model_validator(mode="before")
        @classmethod
        def _one_form(cls, v: Any) -> Any:
            if not isinstance(v, dict):
                return v
            given = {k for k, x in v.items() if x is not None}
            if "ratio" in given and given & {"d_lr", "g_lr"}:
                raise ValueError("give either ratio (relative to the run's lr) or d_lr/g_lr "
                                 "(absolute rates), not both")
            if given & {"d_lr", "g_lr"}:  # absolute, as before ratios existed
                return {"d_lr": SAGAN_D_LR, "g_lr": SAGAN_G_LR,
                        **{k: x for k, x in v.items() if x is not None}, "ratio": None}
            return {k: x for k, x in v.items() if x is not None}  # the ratio form

        @model_serializer(mode="wrap")
        def _set_form_only(self, handler) -> dict[str, Any]:
            # One form is stored: {ratio} or {d_lr, g_lr}; never the other's None.
            return {k: x for k, x in handler(self).items() if x is not None}

    def optimizers(self, spec: OptimSpec) -> OptimSpec:
        p = self.params
        if p.ratio is None:
            return replace(spec, d_lr=p.d_lr, g_lr=p.g_lr)
        s = math.sqrt(p.ratio)  # 2.0 exactly for 4: lr 2e-4 gives 4e-4 and 1e-4 exactly
        return replace(spec, d_lr=spec.d_lr * s, g_lr=spec.g_lr / s)

    def identity_params(self) -> dict[str, Any]:
        # The rates this run trains with: the same run key as the absolute form (and as
        # every key made before ratios existed) wherever the rates are equal.
        if self.params.ratio is None or self.cfg is None:
            return super().identity_params()
        lr = self.cfg.lr
        spec = self.optimizers(OptimSpec(lr, lr, self.cfg.betas, self.cfg.betas))
        return {"d_lr": spec.d_lr, "g_lr": spec.g_lr}
