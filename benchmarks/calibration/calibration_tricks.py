"""Calibration plugin tricks for ganbench's statistics (load with `plugins:` in a sweep file,
or `ganbench tricks verify -p benchmarks/calibration/calibration_tricks.py NAME`).

aa_null        changes nothing (an A/A test). `on`: every hook is the base class's no-op, so
               its cells train exactly as the baseline's (a twin: zero differences);
               `{reinit: true}`: G and D are initialised afresh from the run's RNG, which
               also moves every later draw (batches, noise), so its runs follow other
               trajectories from the same distribution (a re-initialised twin). Any
               "significant" difference the report finds against either is a false
               positive.
planted_noise  a planted harm of known size: the evaluated generator is G's output +
               std * N(0, I), the noise from the trick's own generator (seeded from the
               run's seed). Training is untouched (same draws, same weights as the
               baseline's run of the same seed), so the harm is exactly what the noise does
               to the trained G's samples, and measure_harm.py can measure it directly on
               the baseline's generators. On ring8 (modes of std 0.01, a sample is
               high-quality within 3 std = 0.03 of a mode) it lowers `hq`.
               `{train: true}` adds the noise in training as well (D sees the noisy fakes,
               G's gradient passes through the addition): G can then adapt, so the harm is
               no longer known by construction.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from ganbench.tricks.base import Trick, TrickParams, register


@register("aa_null")
class AANull(Trick):
    """A/A calibration (ganbench, 2026): a trick that does nothing, or (`reinit`) draws G's
    and D's initial weights again from the same distribution; no paper."""

    paper = "none: an A/A calibration trick (benchmarks/calibration/)"
    vectorisable = False  # reinit draws from the global RNG

    class Params(TrickParams):
        reinit: bool = False

    def build(self, g, d):
        if self.params.reinit:
            for net in (g, d):
                for m in net.modules():
                    if m is not net and hasattr(m, "reset_parameters"):
                        m.reset_parameters()
        return g, d


class NoisyOutput(nn.Module):
    """g(z) + std * N(0, I); the noise from `generator` (a CPU torch.Generator), else from
    the global RNG (the tricks' own stream)."""

    def __init__(self, g: nn.Module, std: float, generator: torch.Generator | None = None
                 ) -> None:
        super().__init__()
        self.g, self.std, self.generator = g, std, generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.g(z)
        if self.generator is None:
            return x + self.std * torch.randn_like(x)
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return x + self.std * noise.to(x.device)


@register("planted_noise")
class PlantedNoise(Trick):
    """Planted harm (ganbench calibration, 2026): Gaussian noise of std `std` added to the
    evaluated G's output (and in training too with `train: true`); its size is measured
    directly by measure_harm.py."""

    paper = "none: a planted-harm calibration trick (benchmarks/calibration/)"
    vectorisable = False  # randomness inside vmapped nets is not supported

    class Params(TrickParams):
        std: float = Field(0.01, gt=0, le=1)
        train: bool = False

    def build(self, g, d):
        if self.params.train:
            return NoisyOutput(g, self.params.std), d
        # its own stream, seeded from the run's seed (build runs right after
        # torch.manual_seed(seed)): evaluating never moves the training draws
        self._gen = torch.Generator().manual_seed(torch.initial_seed() + 31337)
        self._wrapped: NoisyOutput | None = None
        return g, d

    def eval_generator(self, g):
        if self.params.train:
            return g
        if self._wrapped is None or self._wrapped.g is not g:
            self._wrapped = NoisyOutput(g, self.params.std, self._gen)
        return self._wrapped
