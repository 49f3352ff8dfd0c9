"""SN-DCGAN: the "standard CNN" of Miyato et al. 2018 (table 3) for 32x32 images, the
network of Kurach et al. 2019's SNDCGAN and StudioGAN's DCGAN-32.

G: z -> linear to (512, 4, 4), BN, ReLU -> three [deconv 4x4 stride 2 (halving channels),
BN, ReLU] -> conv3x3 to C, tanh.
D: conv3x3 64, conv4x4/2 64, conv3x3 128, conv4x4/2 128, conv3x3 256, conv4x4/2 256, conv3x3
512 (LeakyReLU 0.1 after each; D.body ends here, (B, 512, 4, 4)), then linear (D.head).
Weights N(0, 0.02) as in Miyato's code. `g_width` is G's first width (512), `d_width` D's
first (64); the others keep the table's ratios. `d_norm` (batch/layer) goes after every
conv of D but the first, as compare_gan does for Kurach et al.'s normalisation study.
Conditional (n_classes > 0): G's norms are class-conditional, D's head adds the projection
on its flattened features (cGAN-PD).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.models.base import DNorm, ModelSpec, mbstd_layer, norm2d, register_model
from ganbench.models.conditional import Head, Labelled, Norm2d, labels_from_z

SIDE, BOTTOM, G_WIDTH, D_WIDTH = 32, 4, 512, 64


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class SNDCGANGenerator(Labelled):
    def __init__(self, z_dim: int = 128, channels: int = 3, width: int = G_WIDTH,
                 n_classes: int = 0) -> None:
        super().__init__(n_classes)
        self.width = width
        # No biases before G's batch norms (they would be cancelled, as in dcgan.py).
        self.l0 = nn.Linear(z_dim, BOTTOM * BOTTOM * width, bias=False)
        widths = [width, width // 2, width // 4, width // 8]
        self.norms = nn.ModuleList(Norm2d(w, n_classes) for w in widths)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False)
                                 for a, b in zip(widths, widths[1:], strict=False))
        self.c_out = nn.Conv2d(widths[-1], channels, 3, 1, 1)
        self.apply(_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z) -> (B, C, 32, 32)
        y = None
        if self.n_classes:
            y = self.bound if self.bound is not None else labels_from_z(z, self.n_classes)
        h = self.l0(z).view(-1, self.width, BOTTOM, BOTTOM)
        for norm, up in zip(self.norms, self.ups, strict=False):
            h = up(F.relu(norm(h, y)))
        return torch.tanh(self.c_out(F.relu(self.norms[-1](h, y))))


class SNDCGANDiscriminator(Labelled):
    def __init__(self, channels: int = 3, width: int = D_WIDTH, d_norm: DNorm = "none",
                 minibatch_std: bool = False, n_classes: int = 0, projection: bool = True,
                 aux_classifier: bool = False) -> None:
        super().__init__(n_classes)
        w = width
        # (in, out, kernel, stride): the table's seven convs.
        convs = [(channels, w, 3, 1), (w, w, 4, 2), (w, 2 * w, 3, 1), (2 * w, 2 * w, 4, 2),
                 (2 * w, 4 * w, 3, 1), (4 * w, 4 * w, 4, 2), (4 * w, 8 * w, 3, 1)]
        layers: list[nn.Module] = []
        for i, (a, b, k, s) in enumerate(convs):
            layers += [nn.Conv2d(a, b, k, s, 1), norm2d(d_norm, b) if i else nn.Identity(),
                       nn.LeakyReLU(0.1)]
        self.body = nn.Sequential(*layers)  # (B, 8w, 4, 4)
        self.mbstd = mbstd_layer(minibatch_std)
        self.head = Head((8 * w + int(minibatch_std)) * BOTTOM * BOTTOM, n_classes,
                         projection, aux_classifier)
        self.apply(_init)

    def flat(self, x: torch.Tensor) -> torch.Tensor:
        return self.mbstd(self.body(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 32, 32) -> (B,) logits
        h = self.flat(x)
        return self.head(h, self.labels(len(x)) if self.head.embed is not None else None)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of the auxiliary classifier (built for the acgan trick)."""
        if self.head.classifier is None:
            raise RuntimeError("this D has no auxiliary classifier (acgan builds one)")
        return self.head.classifier(self.flat(x))


def build_sndcgan(z_dim: int, shape: tuple[int, ...], d_norm: DNorm,
                  minibatch_std: bool = False, pack: int = 1, g_width: int | None = None,
                  d_width: int | None = None, n_classes: int = 0, projection: bool = True,
                  aux_classifier: bool = False):
    g = SNDCGANGenerator(z_dim, shape[0], g_width or G_WIDTH, n_classes)
    d = SNDCGANDiscriminator(shape[0] * pack, d_width or D_WIDTH, d_norm, minibatch_std,
                             n_classes, projection, aux_classifier)
    return g, d


register_model(ModelSpec("sndcgan32", "images", z_dim=128, image_size=SIDE, d_norm="none",
                         build=build_sndcgan, packs_inputs=True, stackable=True,
                         conditional=True,
                         widths=(G_WIDTH, D_WIDTH), width_multiple=(8, 1)))
