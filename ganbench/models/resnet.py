"""SNGAN's ResNet generator and discriminator (Miyato et al. 2018, appendix B.4; the
architecture Mimicry and PyTorch-StudioGAN report on), for 32x32, 48x48 and 64x64 images.

G: z -> linear to (w, b, b) -> up-ResBlocks [BN, ReLU, 2x nearest upsample, conv3x3, BN,
ReLU, conv3x3; shortcut upsample + conv1x1] -> BN, ReLU, conv3x3, tanh.
D: an optimised first block [conv3x3, ReLU, conv3x3, avgpool; shortcut avgpool + conv1x1],
ResBlocks [ReLU, conv3x3, ReLU, conv3x3, (avgpool); shortcut conv1x1 (+ avgpool) where the
shape changes], then ReLU (D.body ends here: its features, (B, C, h, w)), global sum
pooling and a linear layer (D.head). Models are plain: spectral norm is the
`spectral_norm` trick, which wraps every conv and linear of D (shortcuts and head too).

Upsampling is nearest-neighbour, as in Miyato's code and StudioGAN (Mimicry uses
bilinear). Init as Mimicry: Xavier-uniform, gain sqrt(2) on the residual convs, 1 elsewhere.
G's linear layer and block convs have no biases: each feeds a batch norm that cancels them
(Mimicry keeps them: 6,400 parameters more at 32x32, which never learn anything).
Widths: `g_width`/`d_width` are the widest layer of each net (the papers': 256/128 at 32,
512/1024 at 48, 1024/1024 at 64); the other layers keep the papers' ratios to them.
Conditional (n_classes > 0, cGAN-PD): G's block norms are class-conditional batch norms and
D's head adds the projection <embed(y), h> (models/conditional.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm2d, register_model
from ganbench.models.conditional import Head, Labelled, Norm2d, labels_from_z


def _conv(cin: int, cout: int, k: int, gain: float, bias: bool = True) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, k, 1, k // 2, bias=bias)
    nn.init.xavier_uniform_(conv.weight, gain)
    if bias:
        nn.init.zeros_(conv.bias)
    return conv


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, n_classes: int = 0) -> None:
        super().__init__()
        self.b1, self.b2 = Norm2d(cin, n_classes), Norm2d(cout, n_classes)
        # No biases: every conv here feeds a batch norm (c1 the next one in this block; c2 and
        # the shortcut, summed, the next block's or G's last), which cancels a per-channel
        # bias; its gradient would be rounding noise that Adam turns into full steps.
        self.c1 = _conv(cin, cout, 3, math.sqrt(2), bias=False)
        self.c2 = _conv(cout, cout, 3, math.sqrt(2), bias=False)
        self.c_sc = _conv(cin, cout, 1, 1.0, bias=False)  # upsampling changes the shape

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.b1(x, y)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.b2(self.c1(h), y)))
        return h + self.c_sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, d_norm: DNorm = "none",
                 optimised: bool = False) -> None:
        super().__init__()
        self.down, self.optimised = down, optimised
        self.c1 = _conv(cin, cin if not optimised else cout, 3, math.sqrt(2))
        self.c2 = _conv(self.c1.out_channels, cout, 3, math.sqrt(2))
        self.n1 = nn.Identity() if optimised else norm2d(d_norm, cin)
        self.n2 = norm2d(d_norm, self.c1.out_channels)
        self.c_sc = _conv(cin, cout, 1, 1.0) if (cin != cout or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimised else F.relu(self.n1(x))
        h = self.c2(F.relu(self.n2(self.c1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.optimised:  # pool first: the 1x1 conv then runs on a quarter of the pixels
            sc = self.c_sc(F.avg_pool2d(x, 2))
        elif self.c_sc is not None:
            sc = self.c_sc(x)
            sc = F.avg_pool2d(sc, 2) if self.down else sc
        return h + sc


class ResNetGenerator(Labelled):
    def __init__(self, z_dim: int, channels: int, width: int, bottom: int,
                 divisors: tuple[int, ...], n_classes: int = 0) -> None:
        super().__init__(n_classes)
        widths = [width // d for d in divisors]
        self.first, self.bottom = widths[0], bottom
        self.l1 = nn.Linear(z_dim, bottom * bottom * widths[0], bias=False)  # BN follows
        nn.init.xavier_uniform_(self.l1.weight)
        self.blocks = nn.ModuleList(GBlock(a, b, n_classes)
                                    for a, b in zip(widths, widths[1:], strict=False))
        self.b_out = nn.BatchNorm2d(widths[-1])  # plain, as in cGAN-PD's G too
        self.c_out = _conv(widths[-1], channels, 3, 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, S, S) in [-1, 1]
        y = None
        if self.n_classes:
            y = self.bound if self.bound is not None else labels_from_z(z, self.n_classes)
        h = self.l1(z).view(-1, self.first, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.c_out(F.relu(self.b_out(h))))


class ResNetDiscriminator(Labelled):
    def __init__(self, channels: int, width: int, first: int,
                 blocks: tuple[tuple[int, bool], ...], d_norm: DNorm = "none",
                 minibatch_std: bool = False, n_classes: int = 0, projection: bool = True,
                 aux_classifier: bool = False) -> None:
        super().__init__(n_classes)
        layers: list[nn.Module] = [DBlock(channels, width // first, True, optimised=True)]
        c = width // first
        for div, down in blocks:
            layers.append(DBlock(c, width // div, down, d_norm))
            c = width // div
        layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)  # (B, C, h, w): the features tricks read
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = Head(c + int(minibatch_std), n_classes, projection, aux_classifier)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.mbstd(self.body(x)).sum((2, 3))  # global sum pooling: (B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) -> (B,) logits
        h = self.pooled(x)
        return self.head(h, self.labels(len(x)) if self.head.embed is not None else None)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of the auxiliary classifier (built for the acgan trick)."""
        if self.head.classifier is None:
            raise RuntimeError("this D has no auxiliary classifier (acgan builds one)")
        return self.head.classifier(self.pooled(x))


# name: (side, z, G width, bottom, G divisors, D width, first D divisor, D blocks)
CONFIGS = {
    "sngan32": (32, 128, 256, 4, (1, 1, 1, 1), 128, 1, ((1, True), (1, False), (1, False))),
    "resnet48": (48, 128, 512, 6, (1, 2, 4, 8), 1024, 16,
                 ((8, True), (4, True), (2, True), (1, False))),
    "resnet64": (64, 128, 1024, 4, (1, 2, 4, 8, 16), 1024, 16,
                 ((8, True), (4, True), (2, True), (1, True))),
}


def _builder(name: str):
    _, _, g_w, bottom, g_div, d_w, first, blocks = CONFIGS[name]

    def build(z_dim: int, shape: tuple[int, ...], d_norm: DNorm, minibatch_std: bool = False,
              pack: int = 1, g_width: int | None = None, d_width: int | None = None,
              n_classes: int = 0, projection: bool = True, aux_classifier: bool = False):
        g = ResNetGenerator(z_dim, shape[0], g_width or g_w, bottom, g_div, n_classes)
        d = ResNetDiscriminator(shape[0] * pack, d_width or d_w, first, blocks, d_norm,
                                minibatch_std, n_classes, projection, aux_classifier)
        return g, d

    return build


for _name, (_side, _z, _gw, _, _gdiv, _dw, _first, _) in CONFIGS.items():
    register_model(ModelSpec(_name, "images", z_dim=_z, image_size=_side, d_norm="none",
                             build=_builder(_name), packs_inputs=True, stackable=True,
                             conditional=True,
                             widths=(_gw, _dw), width_multiple=(max(_gdiv), _first)))
