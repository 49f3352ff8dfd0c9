"""Published recipes (benchmarks/recipes/): each resolves, field by field, to the settings
its source publishes (written here with the file each comes from, never read back from
our own output), sits under the protocol of the published number it is shown beside, and a
CPU-sized copy trains."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.image_files import cifar10_root

from ganbench.effective import resolve
from ganbench.metrics.protocols import PROTOCOLS, generated_count
from ganbench.metrics.references import references_for
from ganbench.specs.run import validate
from ganbench.sweep.runner import load_plan
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.schedules import RunSchedules

RECIPES = Path(__file__).resolve().parents[2] / "benchmarks" / "recipes"

# kwotsin/mimicry: examples/sngan_example.py (data, optimisers, n_dis, num_steps,
# lr_decay, FID counts), torch_mimicry/nets/sngan/sngan_32.py (nz, ngf, ndf; SNConv2d and
# SNLinear on every D layer), nets/sngan/sngan_base.py (loss_type='hinge'),
# modules/layers.py (torch's spectral_norm: one power iteration), training/scheduler.py
# (linear_decay from the initial rate to 0.0 over num_steps, set after each iteration).
MIMICRY_SNGAN32 = {
    "fields": {"dataset": "cifar10", "model": "sngan32", "z_dim": 128, "g_width": 256,
               "d_width": 128, "loss": "hinge", "steps": 100_000, "batch_size": 64,
               "betas": (0.0, 0.9), "conditional": False},
    "tricks": {"n_critic": {"steps": 5},
               "spectral_norm": {"n_power_iterations": 1, "on_g": False}},
    "effective": {"lr_d": 2e-4, "lr_g": 2e-4, "d_steps_per_g": 5},
    "lr": lambda t: 2e-4 * (1 - t / 100_000),  # iteration t, 0-based
    "fid": {"n_gen": 50_000, "n_real": 50_000, "split": "train"},
    "evaluated_at": "the last step",
}


def recipe(name: str):
    (cell,) = load_plan(RECIPES / f"{name}.yaml", data="skip").cells
    return cell.config


def test_every_recipe_is_checked_here():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == ["mimicry-sngan32"]


def test_mimicry_sngan32_is_mimicrys_recipe_field_by_field():
    cfg, want = recipe("mimicry-sngan32"), MIMICRY_SNGAN32
    for field, value in want["fields"].items():
        assert getattr(cfg, field) == value, field
    assert set(cfg.tricks) == set(want["tricks"])  # nothing else on
    for trick, params in want["tricks"].items():
        for k, v in params.items():
            assert cfg.tricks[trick][k] == v, (trick, k)
    eff = resolve(cfg)
    for k, v in want["effective"].items():
        assert eff[k] == pytest.approx(v, rel=1e-12), k
    rates = RunSchedules(cfg)
    for t in (0, 1, 25_000, 50_000, 99_999):
        assert rates.values(t)["lr"] == pytest.approx(want["lr"](t), rel=1e-9, abs=1e-15), t
    protocol = PROTOCOLS[cfg.fid_protocol]
    got = {"n_gen": generated_count(cfg), "n_real": protocol.n_real, "split": protocol.split}
    assert got == want["fid"]
    assert cfg.eval_every == 0  # evaluated once, after the last step


def test_mimicry_sngan32_sits_under_the_protocol_of_mimicrys_fid():
    # The published 16.77 is shown beside this cell only when every tag agrees.
    cfg = recipe("mimicry-sngan32")
    (ref,) = [r for r in references_for("cifar10", "fid") if r.source.startswith("kwotsin")]
    protocol = PROTOCOLS[cfg.fid_protocol]
    assert (generated_count(cfg), protocol.n_real, protocol.split) == (
        ref.n_gen, ref.n_real, ref.split)


def test_a_cpu_sized_mimicry_sngan32_trains_with_its_decay(tmp_path):
    root = cifar10_root(tmp_path, per_batch=8)
    cfg = validate(recipe("mimicry-sngan32").model_copy(update={
        "g_width": 16, "d_width": 16, "steps": 3, "batch_size": 8, "log_every": 1,
        "image_metrics": [], "fid_protocol": None, "data_root": root, "device": "cpu"}))
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished" and result.steps_done == 3
    lrs = [v for _, k, v in tracker.metrics if k == "schedule/lr"]
    assert lrs == pytest.approx([2e-4 * (1 - t / 3) for t in range(3)], rel=1e-12)
    assert [v for _, k, v in tracker.metrics if k == "cost/d_steps"] == [15]  # n_dis 5
