"""The model contract, over every registered model, and the image models of issue 16
(SNGAN's ResNets, SN-DCGAN): shapes, ranges, D's features, the options tricks pass, the
papers' parameter counts, spectral norm's reach, training with the canon tricks on CPU, and
seed-stacked runs equal to lone ones."""

from __future__ import annotations

import pytest
import torch
from helpers.data import TINY_IMAGES, TINY_LABELLED
from torch import nn
from torch.nn.utils import parametrize

from ganbench.config import ConfigError, RunConfig
from ganbench.models import MODELS
from ganbench.models.resnet import DBlock, GBlock
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.vectorised import can_vectorise
from ganbench.tricks import TRICKS

from ..train.test_vectorised import cfgs_of, check_equal  # the vectorised-equality harness

B = 4
NEW = ["sngan32", "sndcgan32", "resnet48", "resnet64"]


def small_widths(name: str) -> dict:
    """The narrowest widths a model takes (a few thousand parameters: fast on CPU)."""
    spec = MODELS.get(name)
    if spec.widths is None:
        return {}
    gm, dm = spec.width_multiple
    return {"g_width": 2 * gm, "d_width": 4 * dm}


def shape_for(name: str, channels: int = 3) -> tuple[int, ...]:
    spec = MODELS.get(name)
    if spec.data_kind == "points":
        return (2,)
    side = spec.image_size or 28
    return (channels, side, side)


def build(name: str, channels: int = 3, **options):
    spec = MODELS.get(name)
    return spec.build(spec.z_dim, shape_for(name, channels), spec.d_norm,
                      **{**small_widths(name), **options})


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ------------------------------------------------------------------ every registered model


@pytest.mark.parametrize("name", MODELS.names())
def test_g_maps_noise_to_data_and_d_to_one_logit_each(name):
    torch.manual_seed(0)
    spec = MODELS.get(name)
    g, d = build(name)
    x = g(torch.randn(B, spec.z_dim))
    assert x.shape == (B, *shape_for(name))
    if spec.data_kind == "images" and spec.bounded_output:
        assert x.min() >= -1 and x.max() <= 1  # tanh: the data's range
    out = d(x)
    assert out.shape == (B,) and torch.isfinite(out).all()
    if spec.features is not None:
        assert d.body(x).shape[0] == B


@pytest.mark.parametrize("name", MODELS.names())
def test_minibatch_std_adds_a_feature_the_head_reads(name):
    torch.manual_seed(0)
    spec = MODELS.get(name)
    if not spec.minibatch_std:  # the spec says so; the trick's check makes it a conflict
        with pytest.raises(ValueError, match="minibatch_std"):
            build(name, minibatch_std=True)
        return
    g, d = build(name, minibatch_std=True)
    x = g(torch.randn(B, spec.z_dim)).detach()
    assert d(x).shape == (B,)
    # The statistic depends on the batch: a sample's logit changes with its batch mates
    # (weights drawn to keep activations' scale: N(0, 0.02) inits at tiny widths shrink the
    # features to the size of the statistic's epsilon).
    for p in d.parameters():
        if p.dim() > 1:
            nn.init.kaiming_normal_(p)
    y = x.clone()
    y[1:] = y[:1]
    assert d(x)[0].item() != d(y)[0].item()


@pytest.mark.parametrize("name", [n for n in MODELS.names() if MODELS.get(n).packs_inputs])
def test_a_packed_d_takes_m_samples_at_once(name):
    _, d = build(name, pack=2)
    c, *rest = shape_for(name)
    assert d(torch.randn(B // 2, 2 * c, *rest)).shape == (B // 2,)


@pytest.mark.parametrize("name", [n for n in MODELS.names() if MODELS.get(n).conditional])
def test_conditional_models_build_with_classes_and_an_aux_classifier(name):
    spec = MODELS.get(name)
    g, d = build(name, n_classes=5, projection=False, aux_classifier=True)
    x = g(torch.randn(B, spec.z_dim))  # no labels bound: from a hash of z
    assert d(x).shape == (B,)  # no projection: D reads no labels
    assert d.classify(x).shape == (B, 5)


# ------------------------------------------------------------------ the papers' networks


def test_sngan32_is_miyatos_resnet_with_the_papers_parameter_counts():
    g, d = MODELS.get("sngan32").build(128, (3, 32, 32), "none")
    # Mimicry's and StudioGAN's SNGAN-32: G 4.3M, D 1.0M parameters (Mimicry's G has 6,400
    # more: biases on the linear layer and block convs, which the batch norms after them
    # cancel).
    assert n_params(g) == 4_270_339 == 4_276_739 - 6_400 and n_params(d) == 1_053_825
    assert g.l1.bias is None and all(b.c1.bias is None and b.c2.bias is None
                                     and b.c_sc.bias is None for b in g.blocks)
    assert g.l1.out_features == 4 * 4 * 256
    assert [(b.c1.in_channels, b.c2.out_channels) for b in g.blocks] == [(256, 256)] * 3
    blocks = [m for m in d.body if isinstance(m, DBlock)]
    assert [(b.optimised, b.down, b.c2.out_channels) for b in blocks] == [
        (True, True, 128), (False, True, 128), (False, False, 128), (False, False, 128)]
    assert [b.c_sc is None for b in blocks] == [False, False, True, True]
    x = torch.randn(2, 3, 32, 32)
    assert d.body(x).shape == (2, 128, 8, 8)
    assert (d.body(x) >= 0).all()  # body ends with the ReLU before sum pooling


@pytest.mark.parametrize("name,g_count,d_count", [
    ("sndcgan32", 3_804_739, 2_935_873),  # Miyato's table 3
    ("resnet48", 4_858_307, 10_141_441),  # Miyato's STL-10 ResNet (appendix B.4)
    ("resnet64", 12_201_411, 10_141_441),  # Mimicry's SNGAN-64
])
def test_paper_widths_give_these_parameter_counts(name, g_count, d_count):
    spec = MODELS.get(name)
    g, d = spec.build(128, (3, spec.image_size, spec.image_size), "none")
    assert (n_params(g), n_params(d)) == (g_count, d_count)


def test_widths_scale_every_layer_and_keep_the_ratios():
    g, d = MODELS.get("resnet48").build(128, (3, 48, 48), "none", g_width=64, d_width=32)
    assert [b.c2.out_channels for b in g.blocks] == [32, 16, 8]  # 512:256:128:64 -> /8
    assert [m.c2.out_channels for m in d.body if isinstance(m, DBlock)] == [2, 4, 8, 16, 32]


def test_sndcgan32_d_is_the_seven_conv_table():
    _, d = MODELS.get("sndcgan32").build(128, (3, 32, 32), "none")
    convs = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0])
             for m in d.body if isinstance(m, nn.Conv2d)]
    assert convs == [(3, 64, 3, 1), (64, 64, 4, 2), (64, 128, 3, 1), (128, 128, 4, 2),
                     (128, 256, 3, 1), (256, 256, 4, 2), (256, 512, 3, 1)]
    slopes = {m.negative_slope for m in d.body if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.1}


@pytest.mark.parametrize("name", NEW)
def test_spectral_norm_wraps_every_conv_linear_and_embedding_of_d(name):
    _, d = build(name, n_classes=3)
    weighted = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert any(isinstance(m, nn.Embedding) for m in weighted)  # the projection
    sn = TRICKS.get("spectral_norm")()
    g, d = sn.build(nn.Identity(), d)
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)
    # ResNets' shortcut 1x1 convs are in the list too (the trick selects by type).
    ones = [m for m in weighted if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert name == "sndcgan32" or ones


def test_gblock_upsamples_and_dblock_downsamples():
    x = torch.randn(2, 8, 4, 4)
    assert GBlock(8, 6)(x, None).shape == (2, 6, 8, 8)
    assert DBlock(8, 6, down=True)(x).shape == (2, 6, 2, 2)
    assert DBlock(8, 8, down=False)(x).shape == (2, 8, 4, 4)


# ------------------------------------------------------------------ configs and training


def run_cfg(tmp_path, **kw) -> RunConfig:
    base = dict(steps=3, batch_size=8, device="cpu", log_every=1, eval_samples=16,
                data_root=tmp_path, loss="hinge")
    return validate(RunConfig(**{**base, **kw}))


CANON = {"spectral_norm": {}, "gradient_penalty": {}, "diffaugment": {}, "ema": {}}


@pytest.mark.parametrize("model", ["sngan32", "sndcgan32"])
@pytest.mark.parametrize("dataset", [TINY_LABELLED, TINY_IMAGES])
def test_trains_with_sn_gp_diffaugment_ema_and_hinge(tmp_path, model, dataset):
    # tiny-images is 1-channel 28x28: resized to the model's 32x32 as MNIST is.
    tracker = MemoryTracker()
    result = train(run_cfg(tmp_path, dataset=dataset, model=model, tricks=CANON,
                           **small_widths(model)), tracker)
    assert result.status == "finished" and result.steps_done == 3
    terms = {k for _, k, _ in tracker.metrics if k.startswith("train/")}
    assert {"train/d/adv", "train/d/gp", "train/g/adv"} <= terms
    assert all(torch.isfinite(torch.tensor(v)) for _, k, v in tracker.metrics)
    assert tracker.tags["eval_generator"] == "ema"


@pytest.mark.parametrize("trick", ["feature_matching", "minibatch_std", "consistency", "r1"])
def test_sngan32_trains_with_tricks_that_read_d(tmp_path, trick):
    result = train(run_cfg(tmp_path, dataset=TINY_LABELLED, model="sngan32",
                           tricks={trick: {}}, **small_widths("sngan32")))
    assert result.status == "finished"


def test_pack_trains_on_sndcgan32(tmp_path):
    cfg = run_cfg(tmp_path, dataset=TINY_LABELLED, model="sndcgan32",
                  tricks={"pack": {"m": 2}}, **small_widths("sndcgan32"))
    assert train(cfg).status == "finished"


def test_model_defaults_fill_the_paper_widths():
    cfg = validate(RunConfig(dataset=TINY_LABELLED, model="sngan32"))
    assert (cfg.z_dim, cfg.d_norm, cfg.g_width, cfg.d_width) == (128, "none", 256, 128)
    assert validate(RunConfig(dataset=TINY_IMAGES, model="dcgan28")).g_width is None


@pytest.mark.parametrize("kw,match", [
    ({"model": "dcgan28", "g_width": 32}, r"g_width: model 'dcgan28' has fixed widths"),
    ({"model": "resnet48", "d_width": 40}, r"d_width: model 'resnet48' needs a multiple of 16"),
    ({"model": "sndcgan32", "g_width": 12}, r"suggestion: g_width: 8"),
])
def test_widths_a_model_cannot_take_are_one_line_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as e:
        validate(RunConfig(dataset=TINY_LABELLED, **kw))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("model", NEW)
def test_stacked_seeds_equal_lone_runs_in_float64(tmp_path, model):
    tricks = {"spectral_norm": {}, "minibatch_std": {}, "ema": {"decay": 0.9}, "r1": {}} \
        if model in ("sngan32", "sndcgan32") else {}
    cfgs = cfgs_of(tmp_path, seeds=(0, 1), dataset=TINY_LABELLED, model=model, batch_size=4,
                   steps=3, log_every=1, eval_every=2, loss="hinge", tricks=tricks,
                   **small_widths(model))
    assert can_vectorise(cfgs[0]) is None
    results = check_equal(cfgs, torch.float64)
    assert all(r.status == "finished" for r in results)


def test_stacked_sngan32_equals_lone_runs_in_float32(tmp_path):
    cfgs = cfgs_of(tmp_path, seeds=(0, 1), dataset=TINY_LABELLED, model="sngan32",
                   batch_size=4, steps=3, log_every=1, eval_every=2, loss="hinge",
                   **small_widths("sngan32"))
    check_equal(cfgs, torch.float32)
