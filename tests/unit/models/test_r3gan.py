"""R3GAN's 32x32 networks (models/r3gan.py) against their source's layer list: Huang et al.
2024 (arXiv:2501.05441) section 3 and Table 9 ("Stacked MNIST" and "CIFAR-10" columns:
768-768-768-768 channels, 2 blocks and 96 groups per resolution, G 20.73M / D 20.68M
parameters), brownvc/R3GAN R3GAN/Networks.py, Resamplers.py, FusedOperators.py and train.py's
CIFAR10 preset. Every expected number is computed here from that list, never read back from
our nets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbench.models import MODELS
from ganbench.models.r3gan import BiasedLeakyReLU, Resample, ResidualBlock

SPEC = MODELS.get("r3gan32")


def build(**kw):
    return SPEC.build(SPEC.z_dim, (3, 32, 32), SPEC.d_norm, **kw)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_spec_declares_what_the_source_fixes():
    assert (SPEC.data_kind, SPEC.image_size, SPEC.d_norm) == ("images", 32, "none")
    assert SPEC.z_dim == 64  # train.py: NoiseDimension = 64 (every preset)
    assert SPEC.widths == (768, 768)  # Table 9: 768-768-768-768; train.py 3 * 1024 // 4
    assert SPEC.width_multiple == (8, 8)  # 2w channels in groups of 16
    assert SPEC.stackable and not SPEC.conditional and not SPEC.bounded_output


def test_parameter_counts_are_table_9s():
    g, d = build()
    w, wide, z = 768, 1536, 64
    # a block: conv1x1 w -> 2w, grouped conv3x3 (16 input channels per output), conv1x1
    # 2w -> w, and the two activations' biases; convs have no bias (Networks.Convolution)
    block = w * wide + wide * 16 * 9 + wide * w + 2 * wide
    g_want = w * 16 + z * w + 8 * block + w * 3  # basis maps, basis linear, blocks, to RGB
    d_want = 3 * w + 8 * block + w * 16 + w  # from RGB, blocks, depthwise 4x4, linear
    assert (n_params(g), n_params(d)) == (g_want, d_want) == (20_732_160, 20_683_776)
    assert (round(g_want / 1e6, 2), round(d_want / 1e6, 2)) == (20.73, 20.68)  # Table 9


def test_shapes_stage_by_stage_and_96_groups_at_768():
    g, d = build(g_width=64, d_width=64)
    z = torch.randn(2, 64)
    h = g.basis(z)
    assert h.shape == (2, 64, 4, 4)
    sides = [m for m in g.stages]
    kinds = ["B", "B", "U", "B", "B", "U", "B", "B", "U", "B", "B"]
    assert [("U" if isinstance(m, Resample) else "B") for m in sides] == kinds
    x = g(z)
    assert x.shape == (2, 3, 32, 32)
    assert d.body(x).shape == (2, 64, 4, 4) and d(x).shape == (2,)
    down = [m for m in d.body if isinstance(m, Resample)]
    assert len(down) == 3 and not any(m.up for m in down)
    full = build()[0]
    convs = [m.conv2 for m in full.stages if isinstance(m, ResidualBlock)]
    assert len(convs) == 8 and all(c.groups == 96 and c.kernel_size == (3, 3) for c in convs)


def test_no_normalisation_layer_and_leaky_relu_02_with_a_bias():
    g, d = build(g_width=16, d_width=16)
    norms = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in (*g.modules(), *d.modules()))
    act = BiasedLeakyReLU(2)
    act.bias.data = torch.tensor([1.0, -3.0])
    x = torch.zeros(1, 2, 1, 1)
    assert torch.allclose(act(x).flatten(), torch.tensor([1.0, -0.6]))
    with pytest.raises(ValueError, match="no normalisation"):
        SPEC.build(64, (3, 32, 32), "batch")


def test_resampling_is_bilinear_with_the_1331_kernel():
    # Resamplers.py: [1, 2, 1] convolved with [1, 1] = [1, 3, 3, 1]; outer product / 64.
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = torch.outer(k, k) / 64
    up, down = Resample(up=True), Resample(up=False)
    assert torch.equal(up.kernel, kernel)
    one = torch.ones(1, 2, 8, 8)
    assert torch.allclose(up(one)[..., 1:-1, 1:-1], torch.ones(1, 2, 14, 14))  # gain 4
    assert torch.allclose(down(one)[..., 1:-1, 1:-1], torch.ones(1, 2, 2, 2))
    # up: pixel (1, 1) lands at (2, 2) and spreads over rows/columns 1..4 as the taps
    # 4 * [1, 3, 3, 1] x [1, 3, 3, 1] / 64; column 2 takes the tap 3
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0
    col = up(x)[0, 0, :, 2]
    assert torch.allclose(col, torch.tensor([0.0, 1, 3, 3, 1, 0, 0, 0]) * 4 * 3 / 64)
    # down: the mean of a ramp stays the ramp's mean (a low-pass of weights summing to 1)
    ramp = torch.arange(16.0).repeat(16, 1)[None, None]
    assert torch.allclose(down(ramp)[0, 0, 1:-1, 1:-1].mean(), ramp[0, 0, 2:-2, 2:-2].mean())


def test_fixup_init_zero_last_conv_and_msr_gains():
    torch.manual_seed(0)
    g, d = build(g_width=256, d_width=256)
    blocks = [m for m in (*g.modules(), *d.modules()) if isinstance(m, ResidualBlock)]
    assert len(blocks) == 16 and all(b.conv3.weight.abs().sum() == 0 for b in blocks)
    # the other two: N(0, (sqrt(2 / 1.04) * 8^-0.25)^2 / fan_in); fan_in 256 and 16 * 9
    gain = math.sqrt(2 / (1 + 0.2 ** 2)) * 8 ** -0.25
    w1 = torch.cat([b.conv1.weight.flatten() for b in blocks])
    w2 = torch.cat([b.conv2.weight.flatten() for b in blocks])
    assert abs(w1.std() / (gain / math.sqrt(256)) - 1) < 0.01
    assert abs(w2.std() / (gain / math.sqrt(16 * 9)) - 1) < 0.01
    assert all(b.act1.bias.abs().sum() == 0 for b in blocks)
    assert abs(g.basis.maps.std() - 1) < 0.05  # N(0, 1) maps
    assert abs(g.basis.linear.weight.std() * math.sqrt(64) - 1) < 0.05
    # every block starts as the identity, so G(z) at init is the upsampled basis, mapped
    z = torch.randn(3, 64)
    h = g.basis(z)
    for m in g.stages:
        h = m(h)
    assert torch.allclose(g(z), g.to_image(h))
    ups = [m for m in g.stages if isinstance(m, Resample)]
    h0 = g.basis(z)
    for u in ups:
        h0 = u(h0)
    assert torch.allclose(h, h0, atol=1e-6)


def test_g_output_is_linear_not_a_tanh():
    g, _ = build(g_width=16, d_width=16)
    z = torch.randn(4, 64)
    with torch.no_grad():
        g.to_image.weight.mul_(1000)
    x = g(z)
    assert x.abs().max() > 1  # principle e: no tanh in G's output layer
    with torch.no_grad():
        g.to_image.weight.mul_(2)
    assert torch.allclose(g(z), 2 * x)


def test_head_is_a_depthwise_4x4_conv_then_a_linear():
    _, d = build(g_width=16, d_width=16)
    assert d.head.spatial.groups == 16 and d.head.spatial.kernel_size == (4, 4)
    assert d.head.spatial.bias is None and d.head.linear.bias is None
    h = torch.randn(2, 16, 4, 4)
    want = (h * d.head.spatial.weight[:, 0]).sum((2, 3)) @ d.head.linear.weight.T
    assert torch.allclose(d.head(h), want.squeeze(1), atol=1e-6)


@pytest.mark.parametrize(("kw", "match"), [({"g_width": 12}, "multiple of 8"),
                                           ({"d_width": 4}, "multiple of 8")])
def test_widths_must_keep_groups_of_16(kw, match):
    with pytest.raises(ValueError, match=match):
        build(**kw)
