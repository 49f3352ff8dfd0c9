"""benchmarks/calibration's plugin tricks load and pass `ganbench tricks verify -p FILE`."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.cli import invoke

from ganbench.tricks import TRICKS

PLUGIN = Path(__file__).parents[2] / "benchmarks" / "calibration" / "calibration_tricks.py"


def test_calibration_tricks_load_and_verify():
    with TRICKS.scoped():
        r = invoke("tricks", "verify", "-p", str(PLUGIN), "aa_null", "planted_noise")
    assert r.exit_code == 0, r.output
    assert re.search(r"aa_null: \d+ passed, 0 failed", r.output)
    assert re.search(r"planted_noise: \d+ passed, 0 failed", r.output)


def _ring8(tricks: dict, seed: int = 3):
    import torch

    from ganbench.config import RunConfig
    from ganbench.train import train

    torch.set_num_threads(1)
    return train(RunConfig(dataset="ring8", model="mlp", loss="ns", steps=60, batch_size=64,
                           log_every=30, eval_every=30, eval_samples=500, device="cpu",
                           seed=seed, tricks=tricks))


def test_planted_noise_harms_only_the_evaluation_and_aa_null_changes_nothing():
    import runpy

    import torch

    with TRICKS.scoped():
        runpy.run_path(str(PLUGIN))  # registers afresh (a plugin module imports once)
        base = _ring8({})
        twin = _ring8({"aa_null": {}})
        planted = _ring8({"planted_noise": {"std": 0.3}})
        trained_too = _ring8({"planted_noise": {"std": 0.3, "train": True}})
    weights = [p.detach() for p in base.g.parameters()]
    for other in (twin, planted):  # trained exactly as the baseline
        assert all(torch.equal(a, b.detach()) for a, b in zip(weights, other.g.parameters(),
                                                              strict=True))
    assert twin.metrics == base.metrics
    # the harm is in what is evaluated: noise of 10 mode widths leaves few good samples
    assert planted.metrics["hq"] < base.metrics["hq"] or base.metrics["hq"] == 0
    assert planted.metrics["hq"] <= 0.1
    # with train: true, G's training sees the noise: its weights move elsewhere
    moved = [p.detach() for p in trained_too.g.parameters()]  # NoisyOutput wraps G
    assert len(moved) == len(weights)
    assert not all(torch.equal(a, b) for a, b in zip(weights, moved, strict=True))
