"""What the trick tests share: small run configs, a StepContext around a stand-in D, and
stand-in Ds whose input gradients are known exactly."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.specs.run import caveats, validate
from ganbench.tricks import TRICKS
from ganbench.tricks.base import StepContext

# Three sizes of tiny run, kept as the tests were written against them: `small` (2 steps,
# the contract's), `cfg`/`images` (4 steps of batch 16; images: tiny-images on dcgan28) and
# `run_cfg` (ring8, steps as given; for time constants, which are read off the config).


def small(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=2, batch_size=32, device="cpu", log_every=1, eval_samples=256,
                data_root=tmp_path)
    base.update(overrides)
    return validate(RunConfig(**base))


def cfg(tmp_path, **kw) -> RunConfig:
    base = dict(steps=4, batch_size=16, device="cpu", log_every=1, eval_samples=64,
                data_root=tmp_path)
    return validate(RunConfig(**{**base, **kw}))


def images(tmp_path, **kw) -> RunConfig:
    return cfg(tmp_path, dataset="tiny-images", model="dcgan28", **kw)


def run_cfg(tmp_path=None, **kw) -> RunConfig:
    base = dict(dataset="ring8", model="mlp", device="cpu", batch_size=32, log_every=50,
                eval_samples=256)
    if tmp_path is not None:
        base["data_root"] = tmp_path
    return validate(RunConfig(**{**base, **kw}))


def horizon_caveats(cfg: RunConfig) -> list[str]:
    return [str(f) for f in caveats(cfg) if "of the run" in f.message]


def make(name, **params):
    cls = TRICKS.get(name)
    return cls(cls.Params(**params))


def ctx_for(d, real, fake, step=0) -> StepContext:
    return StepContext(nn.Identity(), d, real, fake, d(real), d(fake), step,
                       sample_real=lambda: real)


class ConstD(nn.Module):
    """D(x) = c for every x: zero input gradient everywhere."""

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(0.3))

    def forward(self, x):
        return self.c.expand(x.shape[0]) + 0 * x.flatten(1).sum(1)


class LinearD(nn.Module):
    def __init__(self, dim=2, scale=1.0):
        super().__init__()
        self.lin = nn.Linear(dim, 1)
        with torch.no_grad():
            self.lin.weight.fill_(scale)

    def forward(self, x):
        return self.lin(x.flatten(1)).squeeze(1)
