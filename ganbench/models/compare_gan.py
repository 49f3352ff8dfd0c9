"""compare_gan's ResNet-CIFAR ("resnet_cifar_arch"; Kurach et al. 2019, the network of
their CIFAR-10 study), written from its layer list: google/compare_gan
compare_gan/architectures/resnet_cifar.py with resnet_ops.py and arch_ops.py (master), the
same network as v2's compare_gan/src/gans/resnet_architecture.py (resnet_cifar_*).

G: z -> linear to (256, 4, 4) -> three up blocks -> BN, ReLU, conv3x3 to C, sigmoid.
  up block: [BN, ReLU, unpool, conv3x3, BN, ReLU, conv3x3] + shortcut [unpool, conv3x3].
D: four blocks, 128 channels (the first two down, the last two not) -> ReLU (D.body ends
  here: (B, 128, 8, 8)) -> global *mean* pooling -> linear to one logit (D.head).
  block: [ReLU, conv3x3, ReLU, conv3x3, (avgpool 2)] + shortcut [conv3x3, (avgpool 2)];
  the first block has its leading ReLU too (a no-op on compare_gan's [0, 1] images).
Every shortcut is a 3x3 conv (resnet_ops.ResNetBlock._get_conv's default kernel), in every
block. `unpool` is zero insertion, not a repeat: each value lands at the top-left of its
2x2 cell and the other three are 0 (resnet_ops.unpool concatenates zeros_like along each
spatial axis, then reshapes).

compare_gan's images are in [0, 1] (datasets.py: /255; G ends in a sigmoid) and its latent
is U(-1, 1) (v2 abstract_gan.z_generator; master modular_gan.z_generator). ganbench's are
in [-1, 1] and N(0, 1), so the nets are compare_gan's on the same images: G returns
2 sigmoid(a) - 1 (= tanh(a / 2)), D reads (x + 1) / 2, and G maps its Gaussian z to
erf(z / sqrt 2), which is U(-1, 1). Losses, spectral norm and init then act on exactly
compare_gan's functions; a gradient penalty does not (the gradient w.r.t. [-1, 1] images
is half that w.r.t. [0, 1] ones; see the sn-gp recipe).

Init: weights N(0, 0.02), biases 0, BN gamma 1 and beta 0. The convs are truncated normal
(within 2 std) under `init: truncated` (v2's ops.conv2d, the paper's code), plain normal
under `init: normal` (master's arch_ops.weight_initializer default); linears are plain
normal in both. BN: batch statistics in training, running averages with decay 0.9 and
eps 1e-5 otherwise (v2 batch_norm_resnet; master resnet_cifar10.gin standardize_batch).
Biases are kept before G's batch norms, as compare_gan has them. Spectral norm is the
`spectral_norm` trick, which wraps every conv and linear of D, as `D.spectral_norm = True`
does (arch_ops.conv2d/linear use_sn); G has none. `d_norm: layer` / `batch` put a norm
before each ReLU of a D block, as v2's resnet_block does (not used by the recipes).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm2d, register_model

SIDE, BOTTOM, G_WIDTH, D_WIDTH = 32, 4, 256, 128


class CompareGanOptions(BaseModel):
    """compare_gan ResNet-CIFAR's options."""

    model_config = ConfigDict(extra="forbid")
    init: Literal["truncated", "normal"] = Field(
        "truncated", description="conv weights N(0, 0.02): truncated at 2 std (compare_gan "
        "v2, the paper's code) or plain (compare_gan master)")


def unpool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W): x at even rows and columns, zeros elsewhere."""
    b, c, h, w = x.shape
    out = x.new_zeros(b, c, h, 2, w, 2)
    out[:, :, :, 0, :, 0] = x
    return out.reshape(b, c, 2 * h, 2 * w)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)  # TF "SAME" padding for 3x3, stride 1


def _init(net: nn.Module, init: str) -> None:
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and init == "truncated":
            nn.init.trunc_normal_(m.weight, 0.0, 0.02, -0.04, 0.04)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        else:
            continue
        nn.init.zeros_(m.bias)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)  # TF decay 0.9


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = _bn(cin), _conv(cin, cout)
        self.bn2, self.conv2 = _bn(cout), _conv(cout, cout)
        self.shortcut = _conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(unpool(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        return h + self.shortcut(unpool(x))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, d_norm: DNorm = "none") -> None:
        super().__init__()
        self.down = down
        self.n1, self.conv1 = norm2d(d_norm, cin), _conv(cin, cout)
        self.n2, self.conv2 = norm2d(d_norm, cout), _conv(cout, cout)
        self.shortcut = _conv(cin, cout)

    def _pool(self, h: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(h, 2) if self.down else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.n1(x)))
        h = self._pool(self.conv2(F.relu(self.n2(h))))
        return h + self._pool(self.shortcut(x))


class To01(nn.Module):
    """ganbench's [-1, 1] images as compare_gan's [0, 1] ones."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2


class CompareGanGenerator(nn.Module):
    def __init__(self, z_dim: int = 128, channels: int = 3, width: int = G_WIDTH,
                 init: str = "truncated") -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(z_dim, BOTTOM * BOTTOM * width)
        self.blocks = nn.Sequential(*(UpBlock(width, width) for _ in range(3)))
        self.bn_out = _bn(width)
        self.conv_out = _conv(width, channels)
        _init(self, init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, 32, 32) in [-1, 1]
        u = torch.erf(z / math.sqrt(2))  # N(0, 1) -> U(-1, 1), compare_gan's latent
        # compare_gan reshapes NHWC (B, 4, 4, 256); channels-first here (same layer up to a
        # permutation of the linear's outputs, which its N(0, 0.02) init does not see)
        h = self.fc(u).view(-1, self.width, BOTTOM, BOTTOM)
        h = self.conv_out(F.relu(self.bn_out(self.blocks(h))))
        return 2 * torch.sigmoid(h) - 1


class CompareGanDiscriminator(nn.Module):
    def __init__(self, channels: int = 3, width: int = D_WIDTH, d_norm: DNorm = "none",
                 minibatch_std: bool = False, init: str = "truncated") -> None:
        super().__init__()
        blocks = [DownBlock(channels if i == 0 else width, width, i <= 1, d_norm)
                  for i in range(4)]
        self.body = nn.Sequential(To01(), *blocks, nn.ReLU())  # (B, w, 8, 8)
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = nn.Linear(width + int(minibatch_std), 1)
        _init(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 32, 32) -> (B,) logits
        h = self.mbstd(self.body(x)).mean((2, 3))  # global mean pooling: (B, w)
        return self.head(h).squeeze(1)


def build_kurach_resnet32(z_dim: int, shape: tuple[int, ...], d_norm: DNorm,
                               minibatch_std: bool = False, pack: int = 1,
                               g_width: int | None = None, d_width: int | None = None,
                               init: str = "truncated"):
    if shape[1:] != (SIDE, SIDE):
        raise ValueError(f"kurach_resnet32 makes {SIDE}x{SIDE} images, not "
                         f"{shape[1]}x{shape[2]}")
    g = CompareGanGenerator(z_dim, shape[0], g_width or G_WIDTH, init)
    d = CompareGanDiscriminator(shape[0] * pack, d_width or D_WIDTH, d_norm, minibatch_std,
                                init)
    return g, d


register_model(ModelSpec("kurach_resnet32", "images", z_dim=128, image_size=SIDE,
                         d_norm="none", build=build_kurach_resnet32, packs_inputs=True,
                         stackable=True, widths=(G_WIDTH, D_WIDTH), options=CompareGanOptions))
