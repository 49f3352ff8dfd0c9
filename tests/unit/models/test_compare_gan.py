"""compare_gan's ResNet-CIFAR (models/compare_gan.py) against its source's layer list:
google/compare_gan compare_gan/architectures/resnet_cifar.py, resnet_ops.py, arch_ops.py
(master) and v2's compare_gan/src/gans/resnet_architecture.py, ops.py, consts.py. Every
expected number below is computed here from that list, never read back from our nets."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganbench.models import MODELS
from ganbench.models.compare_gan import DownBlock, UpBlock, unpool
from ganbench.tricks import TRICKS

SPEC = MODELS.get("kurach_resnet32")


def build(**kw):
    return SPEC.build(SPEC.z_dim, (3, 32, 32), SPEC.d_norm, **kw)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def conv3(cin: int, cout: int) -> int:  # arch_ops.conv2d: (3, 3, cin, cout) kernel + bias
    return 9 * cin * cout + cout


def test_spec_declares_what_the_source_fixes():
    assert (SPEC.data_kind, SPEC.z_dim, SPEC.image_size, SPEC.d_norm) == (
        "images", 128, 32, "none")
    assert SPEC.widths == (256, 128)  # resnet_cifar.py: 256 channels in G, 128 in D
    assert SPEC.stackable and not SPEC.conditional  # stacks (test_registry_specs.py); not built


def test_parameter_counts_are_the_layer_lists():
    g, d = build()
    # G: fc_noise 128 -> 4*4*256; three blocks of bn1, conv1, bn2, conv2, conv_shortcut
    # (all 3x3, 256 -> 256); final_norm; final_conv 256 -> 3.
    block = 2 * 256 + conv3(256, 256) + 2 * 256 + conv3(256, 256) + conv3(256, 256)
    g_want = (128 * 4096 + 4096) + 3 * block + 2 * 256 + conv3(256, 3)
    # D: B1 3 -> 128, B2..B4 128 -> 128 (conv1, conv2, conv_shortcut each); disc_final_fc.
    d_want = 2 * conv3(3, 128) + conv3(128, 128) + 3 * 3 * conv3(128, 128) + (128 + 1)
    assert (n_params(g), n_params(d)) == (g_want, d_want) == (5_849_603, 1_483_137)


def test_shapes_stage_by_stage():
    g, d = build()
    z = torch.randn(2, 128)
    h = g.fc(z).view(-1, 256, 4, 4)
    for block, side in zip(g.blocks, (8, 16, 32), strict=True):  # each doubles the side
        h = block(h)
        assert h.shape == (2, 256, side, side)
    x = g(z)
    assert x.shape == (2, 3, 32, 32)
    h = d.body[0](x)
    for block, side in zip(d.body[1:5], (16, 8, 8, 8), strict=True):  # down, down, none, none
        h = block(h)
        assert h.shape == (2, 128, side, side)
    assert d.body(x).shape == (2, 128, 8, 8) and d(x).shape == (2,)


def test_blocks_have_a_3x3_conv_shortcut_each():
    blocks = [m for m in nn.ModuleList(build()).modules() if isinstance(m, UpBlock | DownBlock)]
    assert len(blocks) == 7 and all(b.shortcut.kernel_size == (3, 3) for b in blocks)


def test_unpool_inserts_zeros():
    # resnet_ops.unpool: concat(x, zeros) along each spatial axis, then reshape.
    x = torch.arange(1.0, 5.0).view(1, 1, 2, 2)
    want = torch.tensor([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]).float()
    assert torch.equal(unpool(x)[0, 0], want)


def test_d_pools_by_the_mean_and_sees_0_1_images():
    g, d = build()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    h = d.body(x).mean((2, 3))  # resnet_cifar.py: tf.reduce_mean(output, axis=[1, 2])
    assert torch.allclose(d(x), d.head(h).squeeze(1))
    # D reads (x + 1) / 2, so its first block's leading ReLU changes nothing on images.
    first = d.body[1]
    x01 = d.body[0](x)
    assert x01.min() >= 0 and torch.equal(torch.relu(x01), x01)
    no_relu = torch.nn.functional.avg_pool2d(first.conv2(torch.relu(first.conv1(x01))), 2)
    assert torch.allclose(first(x01), no_relu + first._pool(first.shortcut(x01)))


def test_g_is_a_sigmoid_on_uniform_latents():
    g, _ = build()
    g.eval()
    z = torch.randn(4, 128)
    u = torch.erf(z / math.sqrt(2))  # N(0, 1) -> U(-1, 1): compare_gan's z
    h = g.fc(u).view(-1, 256, 4, 4)
    a = g.conv_out(torch.relu(g.bn_out(g.blocks(h))))
    assert torch.allclose(g(z), 2 * torch.sigmoid(a) - 1)
    big = torch.randn(200_000)
    v = torch.erf(big / math.sqrt(2))
    assert abs(v.mean()) < 0.01 and abs(v.var() - 1 / 3) < 0.01  # U(-1, 1): mean 0, var 1/3


def test_init_is_normal_0_02_truncated_on_convs_by_default():
    for init, bound in (("truncated", 0.04), ("normal", None)):
        torch.manual_seed(0)
        g, d = build(init=init)
        convs = [m.weight for m in (*g.modules(), *d.modules()) if isinstance(m, nn.Conv2d)]
        w = torch.cat([c.flatten() for c in convs])
        assert all(m.bias.abs().sum() == 0 for m in (*g.modules(), *d.modules())
                   if isinstance(m, nn.Conv2d | nn.Linear))
        if bound:
            assert w.abs().max() <= bound and 0.016 < w.std() < 0.019  # 0.88 * 0.02
        else:
            assert w.abs().max() > 0.04 and abs(w.std() - 0.02) < 0.001
    assert SPEC.checked_options({}) == {"init": "truncated"}


def test_spectral_norm_reaches_every_d_layer_and_no_g_layer():
    g, d = build()
    g, d = TRICKS.get("spectral_norm")().build(g, d)
    weighted = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    # v2 src/gans/consts.py N_DISCRIMINATOR_LAYERS[RESNET_CIFAR] = 13: 4 blocks x 3 convs + fc
    assert len(weighted) == 13
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(parametrize.is_parametrized(m) for m in g.modules())
