"""R3GAN's generator and discriminator for 32x32 images ("Config E"; Huang, Gokaslan,
Kuleshov, Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline", NeurIPS
2024, arXiv:2501.05441: section 3 "Neural network architecture details" and "Bottleneck
modernization (Config E)", Table 9), written from its layer list: brownvc/R3GAN
R3GAN/Networks.py, R3GAN/Resamplers.py, R3GAN/FusedOperators.py and train.py's CIFAR10 preset,
which Table 9's Stacked MNIST column shares (768-768-768-768 channels, 2 blocks and 96 groups
per resolution, G 20.73M / D 20.68M parameters; Appendix D: "We base this model off of the
CIFAR-10 model but without class conditioning").

No normalisation layer anywhere (the paper's principle c). Every stage has `w` channels:

  block(x) = x + conv1x1(2w -> w, no bias, init 0)(act(conv3x3(2w -> 2w, groups 2w/16)(
             act(conv1x1(w -> 2w)(x)))))
  act      = + a per-channel bias (init 0), then leaky ReLU 0.2 (BiasedActivation)

G: z (64) -> basis: learned (w, 4, 4) maps, N(0, 1), each channel scaled by linear(z)
   (w outputs, no bias) -> 2 blocks -> 3 x [up x2, 2 blocks] -> conv1x1 (w -> C, no bias).
   The output is linear (no tanh: principle e); ganbench's metrics and sample grids clip it.
D: conv1x1 (C -> w, no bias) -> 3 x [2 blocks, down x2] -> 2 blocks (D.body ends here:
   (B, w, 4, 4)) -> depthwise conv4x4 (no bias) -> linear (w -> 1, no bias) (D.head).
   The tricks' options, none of them R3GAN's: `minibatch_std` adds its std channel before
   the head (w + 1 channels there), `pack` m makes D's first conv read m*C channels.

Resampling (Resamplers.py, "interpolative", filter [1, 2, 1]): the filter convolved with
[1, 1] is [1, 3, 3, 1]; its outer product over 64 is a separable 4x4 low-pass. Up: zero
insertion then that kernel times 4 (a transposed conv, stride 2, padding 1); down: that
kernel then every other pixel (stride 2, padding 1): bilinear resampling. Both act per
channel. Stages of equal width need no 1x1 conv beside the resampling (R3GAN adds one only
where the width changes; here every stage has the same width, as in Table 9).

Init (Networks.py MSRInitializer): weights N(0, gain^2 / fan_in), fan_in = in/groups * k*k,
biases 0. Fix-up: in each block the last conv is 0 and the other two have gain
sqrt(2 / (1 + 0.2^2)) * L^(-1/4), L = 8 blocks per net (train.py: sum of BlocksPerStage);
every other layer has gain 1.

Not R3GAN's: it runs the three highest-resolution stages of each net in bfloat16
(train.py FP16Stages); here every layer is float32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, register_model

SIDE, BOTTOM, WIDTH, Z_DIM = 32, 4, 768, 64
STAGES = 4  # 4, 8, 16, 32
BLOCKS = 2  # per stage (Table 9 "ResBlocks per resolution 2-2-2-2")
EXPANSION = 2  # train.py ExpansionFactor
GROUP_SIZE = 16  # section 3 Config E: "We set the group size to 16"
SLOPE = 0.2  # leaky ReLU
ACT_GAIN = math.sqrt(2 / (1 + SLOPE ** 2))  # FusedOperators.BiasedActivation.Gain


def _msr(layer: nn.Conv2d | nn.Linear, gain: float) -> None:
    """N(0, gain^2 / fan_in), fan_in = what one output unit reads."""
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(layer.weight[0].numel()))


def _conv(cin: int, cout: int, k: int = 1, gain: float = 1.0, groups: int = 1) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, k, 1, (k - 1) // 2, groups=groups, bias=False)
    if gain == 0:
        nn.init.zeros_(conv.weight)
    else:
        _msr(conv, gain)
    return conv


class BiasedLeakyReLU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), SLOPE)


class ResidualBlock(nn.Module):
    """1-3-1 inverted bottleneck: w -> 2w -> (grouped 3x3) -> w, added to x."""

    def __init__(self, width: int, n_blocks: int) -> None:
        super().__init__()
        wide = width * EXPANSION
        gain = ACT_GAIN * n_blocks ** -0.25  # fix-up: L^(-1/4) for 3 layers, 2 activations
        self.conv1 = _conv(width, wide, 1, gain)
        self.act1 = BiasedLeakyReLU(wide)
        self.conv2 = _conv(wide, wide, 3, gain, groups=wide // GROUP_SIZE)
        self.act2 = BiasedLeakyReLU(wide)
        self.conv3 = _conv(wide, width, 1, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


def lowpass() -> torch.Tensor:
    """(4, 4): outer([1, 3, 3, 1]) / 64, the [1, 2, 1] filter convolved with [1, 1]."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = torch.outer(k, k)
    return k / k.sum()


class Resample(nn.Module):
    """Per-channel bilinear up (x2) or down (/2) sampling with the 4x4 low-pass."""

    def __init__(self, up: bool) -> None:
        super().__init__()
        self.up = up
        self.register_buffer("kernel", lowpass())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> 2H or H/2
        c = x.shape[1]
        k = self.kernel.to(x.dtype).expand(c, 1, 4, 4)
        if self.up:  # zero insertion + 4 * kernel: the 4 keeps a constant image constant
            return F.conv_transpose2d(x, 4 * k, stride=2, padding=1, groups=c)
        return F.conv2d(x, k, stride=2, padding=1, groups=c)


class Basis(nn.Module):
    """G's 4x4 stage input: learned maps (w, 4, 4), channel c scaled by linear(z)_c."""

    def __init__(self, z_dim: int, width: int) -> None:
        super().__init__()
        self.maps = nn.Parameter(torch.randn(width, BOTTOM, BOTTOM))
        self.linear = nn.Linear(z_dim, width, bias=False)
        _msr(self.linear, 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, w, 4, 4)
        return self.maps[None] * self.linear(z)[:, :, None, None]


class Head(nn.Module):
    """D's 4x4 stage output: a depthwise 4x4 conv (no padding) to (B, w), then linear."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.spatial = nn.Conv2d(width, width, BOTTOM, groups=width, bias=False)
        _msr(self.spatial, 1.0)
        self.linear = nn.Linear(width, 1, bias=False)
        _msr(self.linear, 1.0)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, w, 4, 4) -> (B,)
        return self.linear(self.spatial(h).flatten(1)).squeeze(1)


def _stage_blocks(width: int) -> list[nn.Module]:
    return [ResidualBlock(width, STAGES * BLOCKS) for _ in range(BLOCKS)]


class R3GANGenerator(nn.Module):
    def __init__(self, z_dim: int = Z_DIM, channels: int = 3, width: int = WIDTH) -> None:
        super().__init__()
        self.basis = Basis(z_dim, width)
        layers = _stage_blocks(width)
        for _ in range(STAGES - 1):
            layers += [Resample(up=True), *_stage_blocks(width)]
        self.stages = nn.Sequential(*layers)
        self.to_image = _conv(width, channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, 32, 32), linear
        return self.to_image(self.stages(self.basis(z)))


class R3GANDiscriminator(nn.Module):
    def __init__(self, channels: int = 3, width: int = WIDTH,
                 minibatch_std: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(channels, width, 1)]
        for _ in range(STAGES - 1):
            layers += [*_stage_blocks(width), Resample(up=False)]
        self.body = nn.Sequential(*layers, *_stage_blocks(width))  # (B, w, 4, 4)
        self.mbstd = mbstd_layer(minibatch_std)  # not R3GAN's: the minibatch_std trick
        self.head = Head(width + int(minibatch_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 32, 32) -> (B,) logits
        return self.head(self.mbstd(self.body(x)))


def build_r3gan32(z_dim: int, shape: tuple[int, ...], d_norm: DNorm,
                  minibatch_std: bool = False, pack: int = 1,
                  g_width: int | None = None, d_width: int | None = None):
    if shape[1:] != (SIDE, SIDE):
        raise ValueError(f"r3gan32 makes {SIDE}x{SIDE} images, not {shape[1]}x{shape[2]}")
    if d_norm != "none":
        raise ValueError(f"r3gan32 has no normalisation layers (R3GAN's design); d_norm "
                         f"{d_norm!r} is not one of its settings: write d_norm: none")
    gw, dw = g_width or WIDTH, d_width or WIDTH
    for name, w in (("g_width", gw), ("d_width", dw)):
        if (w * EXPANSION) % GROUP_SIZE:
            raise ValueError(f"r3gan32: {name} {w} is not a multiple of "
                             f"{GROUP_SIZE // EXPANSION} (groups of {GROUP_SIZE} channels)")
    return (R3GANGenerator(z_dim, shape[0], gw),
            R3GANDiscriminator(shape[0] * pack, dw, minibatch_std))


register_model(ModelSpec(
    "r3gan32", "images", z_dim=Z_DIM, image_size=SIDE, d_norm="none", build=build_r3gan32,
    packs_inputs=True, stackable=True, widths=(WIDTH, WIDTH),
    width_multiple=(GROUP_SIZE // EXPANSION, GROUP_SIZE // EXPANSION), bounded_output=False))
