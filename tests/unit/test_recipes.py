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


# google/compare_gan, branch v2 (the code of Kurach et al. 2019):
# compare_gan/src/generate_tasks_lib.py BestModelResnetCifar() lines 1 (NS), 3 (SN), 5 (SN+GP)
# and the block every line is updated with (architecture RESNET_CIFAR, dataset cifar10,
# batch_size 64, z_dim 128, gan_type GAN_WITH_PENALTY, optimizer adam); training_steps
# 200000 counted in D steps (src/gans/abstract_gan.py train / run_single_train_step: G every
# disc_iters = 5 steps, so 40000 G steps; master's example_configs/resnet_cifar10.gin:
# options.training_steps = 40000 on the G optimiser's global step, gans/modular_gan.py);
# src/gans/resnet_architecture.py resnet_cifar_* (256 G channels, 128 D channels);
# src/gans/ops.py spectral_norm (one power iteration, eps 1e-12, every D conv and linear);
# src/gans/gans_with_penalty.py wgangp_penalty (two-sided, weight lambda = 1);
# src/eval_gan_lib.py RunCheckpointEval (10000 generated vs the 10000 test images).
_CG_COMMON = {"dataset": "cifar10", "model": "kurach_resnet32", "z_dim": 128,
              "g_width": 256, "d_width": 128, "loss": "ns", "steps": 40_000,
              "batch_size": 64, "lr": 2e-4, "betas": (0.5, 0.999), "d_norm": "none",
              "conditional": False}
_CG_SN = {"n_power_iterations": 1, "eps": 1e-12, "on_g": False}
COMPARE_GAN = {
    "compare_gan-resnet-cifar-ns": {"n_critic": {"steps": 5}},
    "compare_gan-resnet-cifar-sn": {"n_critic": {"steps": 5}, "spectral_norm": _CG_SN},
    "compare_gan-resnet-cifar-sn-gp": {"n_critic": {"steps": 5}, "spectral_norm": _CG_SN,
                                       "gradient_penalty": {"weight": 1.0,
                                                            "one_sided": False}},
}
COMPARE_GAN_FID = {"n_gen": 10_000, "n_real": 10_000, "split": "test"}


def recipe(name: str):
    (cell,) = load_plan(RECIPES / f"{name}.yaml", data="skip").cells
    return cell.config


def test_every_recipe_is_checked_here():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(
        ["mimicry-sngan32", *COMPARE_GAN])


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


# ------------------------------------------------------------------ compare_gan ResNet-CIFAR


@pytest.mark.parametrize("name", COMPARE_GAN)
def test_compare_gan_recipes_are_the_papers_settings_field_by_field(name):
    cfg, tricks = recipe(name), COMPARE_GAN[name]
    for field, value in _CG_COMMON.items():
        assert getattr(cfg, field) == value, field
    assert cfg.model_options == {"init": "truncated"}  # v2 src/gans/ops.py conv2d
    assert set(cfg.tricks) == set(tricks)  # nothing else on
    for trick, params in tricks.items():
        for k, v in params.items():
            assert cfg.tricks[trick][k] == v, (trick, k)
    eff = resolve(cfg)
    assert (eff["lr_d"], eff["lr_g"], eff["d_steps_per_g"]) == (2e-4, 2e-4, 5)
    assert eff["steps"] * eff["d_steps_per_g"] == 200_000  # v2's training_steps, D steps
    assert not cfg.schedules and "lr" not in RunSchedules(cfg).values(0)  # constant rate
    protocol = PROTOCOLS[cfg.fid_protocol]
    got = {"n_gen": generated_count(cfg), "n_real": 10_000 if protocol.n_real is None
           else protocol.n_real, "split": protocol.split}
    assert got == COMPARE_GAN_FID
    assert cfg.eval_every == 0


def test_no_compare_gan_number_is_shown_beside_these_recipes():
    # compare_gan's FIDs use TF-GAN's frozen Inception graph, not shown to be the network
    # torch-fidelity ports: the recipes' comments say so, and no reference is registered.
    assert not [r for r in references_for("cifar10", "fid") if "compare_gan" in r.source]


@pytest.mark.parametrize("name", ["compare_gan-resnet-cifar-sn-gp"])
def test_a_cpu_sized_compare_gan_recipe_trains(tmp_path, name):
    root = cifar10_root(tmp_path, per_batch=8)
    cfg = validate(recipe(name).model_copy(update={
        "g_width": 8, "d_width": 8, "steps": 2, "batch_size": 8, "log_every": 1,
        "image_metrics": [], "fid_protocol": None, "data_root": root, "device": "cpu"}))
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished" and result.steps_done == 2
    assert [v for _, k, v in tracker.metrics if k == "cost/d_steps"] == [10]  # 5 per G step
    assert any(k == "train/d/gp" for _, k, _ in tracker.metrics)
