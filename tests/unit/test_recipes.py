"""Published recipes (benchmarks/recipes/): each resolves, field by field, to the settings
its source publishes (written here with the file each comes from, never read back from
our own output), sits under the protocol of the published number it is shown beside, and a
CPU-sized copy trains."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers.image_files import cifar10_root

from ganbench.data import DATASETS, stacked_mnist
from ganbench.effective import resolve
from ganbench.metrics.protocols import PROTOCOLS, generated_count
from ganbench.metrics.references import references_for
from ganbench.models import MODELS
from ganbench.specs.run import validate
from ganbench.sweep.runner import load_plan
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.schedules import RunSchedules
from ganbench.tricks import TRICKS

from .data.test_stacked_mnist import write_fake_mnist

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
        ["mimicry-sngan32", *COMPARE_GAN, "r3gan-stacked-mnist", "r3gan-stacked-mnist-table1"])


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


# ------------------------------------------------------------------ R3GAN Stacked MNIST

# Huang, Gokaslan, Kuleshov, Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN
# Baseline" (NeurIPS 2024, arXiv:2501.05441). Table 9, column "Stacked MNIST": resolution
# 32x32, unconditional, duration 10 Mimg, burn-in 2 Mimg, minibatch 512, learning rate
# 2e-4, gamma for R1 and R2 1 -> 0.1, Adam beta2 0.9 -> 0.99, EMA half-life 0 -> 0.5 Mimg,
# channels 768-768-768-768, ResBlocks 2-2-2-2, groups 96-96-96-96, no x-flips, no
# augmentation. Appendix D "Stacked MNIST": the CIFAR-10 model without class conditioning,
# no augmentation, a constant learning rate. brownvc/R3GAN train.py (CIFAR10 preset:
# NoiseDimension 64; Adam betas [0, beta2]), training/training_loop.py
# (cosine_decay_with_warmup; 512 images per iteration, D then G; stop at 10,000,000 images;
# EMA beta = 0.5 ** (batch / half-life)), R3GAN/Trainer.py (RpGAN; gamma/2 * (R1 + R2)).
R3GAN_BATCH, R3GAN_IMAGES, R3GAN_BURN_IN = 512, 10_000_000, 2_000_000


def trick(name: str, cfg):
    cls = TRICKS.get(name)
    return cls(cls.Params.model_validate(cfg.tricks[name]), cfg)


def r3gan_cosine(nimg: float, base: float, final: float, total: float = R3GAN_BURN_IN):
    """training_loop.py cosine_decay_with_warmup, with no warm-up and no hold (Table 9)."""
    if nimg > total:
        return final
    decay = 0.5 * (1 + math.cos(math.pi * nimg / total))
    return base + (1 - decay) * (final - base)


R3GAN_STACKED_MNIST = {
    "fields": {"dataset": "stacked_mnist", "model": "r3gan32", "z_dim": 64, "g_width": 768,
               "d_width": 768, "d_norm": "none", "loss": "rpgan", "batch_size": 512,
               "lr": 2e-4, "conditional": False},
    "steps": math.ceil(R3GAN_IMAGES / R3GAN_BATCH),  # iterations until 1e7 images are seen
    "beta1": 0.0,
    "beta2": lambda nimg: r3gan_cosine(nimg, 0.9, 0.99),
    "gamma": lambda nimg: r3gan_cosine(nimg, 1.0, 0.1),  # R1's and R2's alike
    "ema_half_life": lambda nimg: r3gan_cosine(nimg, 0.0, 500_000.0),  # images
    "table3": {"modes": 1000, "kl": 0.029},  # "Ours - Config E"; one run
}
# What ganbench does not write as R3GAN has it; each is said in the recipe's comment.
R3GAN_DIFFERENCES = {
    "ema": "Table 9's half-life 0 -> 0.5 Mimg is a cosine; ganbench: the end decay "
           "0.5^(512/5e5) with ema's (1 + t)/(10 + t) warm-up",
    "burn-in": "2 Mimg is 3906.25 iterations; the gamma and beta2 cosines end at step 3906",
    "resolution": "ganbench's 28x28 stacked_mnist, resized to 32x32 (Table 9: 32x32)",
    "precision": "R3GAN's three highest-resolution stages run in bfloat16; float32 here",
    "scores": "ganbench's own classifier on 26,000 samples (the paper gives neither)",
}


def test_r3gan_stacked_mnist_is_table_9_field_by_field():
    cfg, want = recipe("r3gan-stacked-mnist"), R3GAN_STACKED_MNIST
    for field, value in want["fields"].items():
        assert getattr(cfg, field) == value, field
    assert cfg.model_options == {}
    assert cfg.steps == want["steps"] == 19_532
    assert (cfg.steps - 1) * R3GAN_BATCH < R3GAN_IMAGES <= cfg.steps * R3GAN_BATCH
    eff = resolve(cfg)
    assert (eff["lr_d"], eff["lr_g"], eff["d_steps_per_g"]) == (2e-4, 2e-4, 1)
    assert "lr" not in cfg.schedules  # Table 9 / appendix D: a constant rate
    assert set(cfg.tricks) == {"r1", "r2", "ema"}  # no augmentation, no other trick
    rates = RunSchedules(cfg)
    for name in ("r1", "r2"):
        assert cfg.tricks[name]["gamma"] == want["gamma"](0) == 1.0
        assert cfg.tricks[name]["interval"] == 1  # every D step (no lazy regularisation)
        for t in (0, 1, 500, 1953, 3000, 3905, 3906, 3907, 10_000, cfg.steps - 1):
            got, published = rates.values(t)[f"{name}.gamma"], want["gamma"](R3GAN_BATCH * t)
            # the published burn-in is 3906.25 iterations, ganbench's 3906 steps
            assert got == pytest.approx(published, abs=6e-5), (name, t)
        end = rates.values(cfg.steps - 1)[f"{name}.gamma"]
        assert end == pytest.approx(want["gamma"](R3GAN_IMAGES), rel=1e-12)  # held at 0.1
    ema = trick("ema", cfg)
    end = 0.5 ** (R3GAN_BATCH / want["ema_half_life"](R3GAN_IMAGES))
    assert ema.params.decay == pytest.approx(end, rel=1e-9) and ema.params.warmup
    assert ema.params.start == 0  # averaging from the first G step, as R3GAN's
    assert ema.decay_at(cfg.steps - 1) == pytest.approx(end, rel=1e-9)
    # Adam: beta1 = 0 as R3GAN's; beta2 moves on R3GAN's cosine over the burn-in
    assert cfg.betas[0] == want["beta1"] and "beta1" not in cfg.schedules
    assert cfg.betas[1] == want["beta2"](0) == 0.9
    for t in (0, 1, 500, 1953, 3000, 3905, 3906, 3907, 10_000, cfg.steps - 1):
        got, published = rates.values(t)["beta2"], want["beta2"](R3GAN_BATCH * t)
        assert got == pytest.approx(published, abs=6e-5), ("beta2", t)
    assert rates.values(cfg.steps - 1)["beta2"] == pytest.approx(0.99, rel=1e-12)
    assert cfg.image_metrics == ["labels"] and cfg.eval_samples == 26_000
    assert cfg.eval_every == 0


def test_r3gan_stacked_mnist_listed_differences_are_what_the_config_shows():
    cfg = recipe("r3gan-stacked-mnist")
    ema = trick("ema", cfg)
    # EMA: R3GAN's cosine half-life reaches its end at the burn-in; ema's warm-up later
    r3gan_at = lambda t: 0.5 ** (R3GAN_BATCH / max(  # noqa: E731
        R3GAN_STACKED_MNIST["ema_half_life"](R3GAN_BATCH * t), 1e-8))
    assert r3gan_at(0) == 0.0 and ema.decay_at(0) == 0.1  # R3GAN copies G first; ema: 1/10
    assert r3gan_at(3907) == pytest.approx(ema.params.decay, rel=1e-9)
    assert ema.decay_at(3907) < ema.params.decay and ema.decay_at(12_675) == ema.params.decay
    # burn-in: 3906.25 iterations published, 3906 whole steps here
    assert R3GAN_BURN_IN / R3GAN_BATCH == 3906.25
    assert all(cfg.schedules[k].over == 3906 for k in ("r1.gamma", "r2.gamma", "beta2"))
    # resolution: the data is 28x28, the model's side 32
    assert DATASETS.get(cfg.dataset).shape == (3, 28, 28)
    assert MODELS.get(cfg.model).image_size == 32
    assert set(R3GAN_DIFFERENCES) == {"ema", "burn-in", "resolution", "precision", "scores"}


def test_no_r3gan_number_is_shown_beside_these_recipes():
    # The paper's classifier and sample count are not published: nothing is registered.
    assert not [r for m in ("label_modes", "label_kl")
                for r in references_for("stacked_mnist", m)]


# Table 1 (section 2.4): the loss x R2 grid, R1 always; one run each. Its network ("a small
# ResNet for G and D without any normalization layers") and hyperparameters are not
# published: the recipe takes them from Table 9's Stacked MNIST column (the paper's other
# Stacked MNIST setting), and the test says which fields those are.
R3GAN_TABLE1 = {  # (loss, with R2) -> (modes, KL) or "Fail"
    ("rpgan", True): (1000, 0.0781),
    ("ns", True): (693, 0.9270),
    ("rpgan", False): "Fail",
    ("ns", False): "Fail",
}
TABLE1_PUBLISHED = {"dataset": "stacked_mnist", "d_norm": "none", "conditional": False}
TABLE1_FROM_TABLE_9 = ("model", "z_dim", "g_width", "d_width", "steps", "batch_size", "lr",
                       "betas", "image_metrics", "eval_samples", "eval_every")
# Not Table 1's, each said in the recipe's comment (and Table 9's own differences on top).
TABLE1_DIFFERENCES = {
    "network": "Table 1's 'small ResNet' is unpublished: r3gan32 at Table 9's 768 channels",
    "settings": f"unpublished for Table 1: {', '.join(TABLE1_FROM_TABLE_9)}, r1.gamma and "
                "ema are Table 9's Stacked MNIST values",
    "gan": "the GAN row's G loss is not stated: ns (non-saturating) is a reading",
}


def table1_cells() -> dict:
    plan = load_plan(RECIPES / "r3gan-stacked-mnist-table1.yaml", data="skip")
    return {(c.config.loss, "r2" in c.config.tricks): c.config for c in plan.cells}


def test_r3gan_table1_is_the_loss_by_r2_grid_with_r1_always():
    cells, table9 = table1_cells(), recipe("r3gan-stacked-mnist")
    assert set(cells) == set(R3GAN_TABLE1)
    for (loss, with_r2), cfg in cells.items():
        for field, value in TABLE1_PUBLISHED.items():
            assert getattr(cfg, field) == value, field
        # Eq. 2 (RpGAN) or Eq. 1 with f(t) = -log(1 + e^-t); the paper does not say which G
        # loss its "GAN" row used: ns (StyleGAN's, softplus(-D(G(z)))) is a reading
        assert cfg.loss == loss and loss in ("rpgan", "ns")
        assert set(cfg.tricks) == {"r1", "ema", *(["r2"] if with_r2 else [])}
        # one gamma for R1 and R2 (Eq. 3)
        gammas = {k: v for k, v in cfg.schedules.items() if k.endswith(".gamma")}
        assert len({(s.end, s.shape, s.over) for s in gammas.values()}) == 1
        assert len({cfg.tricks[k]["gamma"] for k in cfg.tricks if k != "ema"}) == 1
        # not published by Table 1: Table 9's Stacked MNIST values, field by field
        for field in TABLE1_FROM_TABLE_9:
            assert getattr(cfg, field) == getattr(table9, field), field
        assert cfg.tricks["r1"] == table9.tricks["r1"] and cfg.tricks["ema"] == table9.tricks["ema"]
        assert cfg.schedules["r1.gamma"] == table9.schedules["r1.gamma"]
    assert set(TABLE1_DIFFERENCES) == {"network", "settings", "gan"}
    assert cells[("ns", True)].model == "r3gan32" and cells[("ns", True)].g_width == 768
    # RpGAN + R1 + R2 is r3gan-stacked-mnist.yaml's run
    assert cells[("rpgan", True)].model_dump() == table9.model_dump()


@pytest.fixture
def stacked_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(stacked_mnist, "N_IMAGES", 200)  # the real set is 128,000
    write_fake_mnist(tmp_path / "root")
    return tmp_path / "root"


def train_tiny(cfg, root, steps: int) -> MemoryTracker:
    """A CPU-sized copy of a recipe's run (widths 8, batch 8), trained `steps` steps."""
    cfg = validate(cfg.model_copy(update={
        "g_width": 8, "d_width": 8, "steps": steps, "batch_size": 8, "log_every": 1,
        "image_metrics": [], "data_root": root, "device": "cpu"}))
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished" and result.steps_done == steps
    return tracker


def test_a_cpu_sized_r3gan_stacked_mnist_trains_with_its_schedules(stacked_root):
    tracker = train_tiny(recipe("r3gan-stacked-mnist"), stacked_root, 3)
    logged = {k for _, k, _ in tracker.metrics}
    assert {"train/d/r1", "train/d/r2"} <= logged
    cosine = [0.5 * (1 + math.cos(math.pi * t / 3906)) for t in range(3)]
    gammas = [v for _, k, v in tracker.metrics if k == "schedule/r1.gamma"]
    assert gammas == pytest.approx([0.1 + 0.9 * c for c in cosine], rel=1e-12)
    beta2 = [v for _, k, v in tracker.metrics if k == "schedule/beta2"]
    assert beta2 == pytest.approx([0.99 - 0.09 * c for c in cosine], rel=1e-12)


@pytest.mark.parametrize("cell", sorted(R3GAN_TABLE1))
def test_a_cpu_sized_r3gan_table1_cell_trains(stacked_root, cell):
    tracker = train_tiny(table1_cells()[cell], stacked_root, 2)
    logged = {k for _, k, _ in tracker.metrics}
    assert "train/d/r1" in logged and (("train/d/r2" in logged) == cell[1])
