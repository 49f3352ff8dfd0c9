"""Classifier metrics for datasets ganbench's own classifier labels (metrics/classifier.py):
MNIST and Fashion-MNIST (10 classes), Stacked MNIST (three digits, 10^3 = 1,000 classes).

Protocol (VEEGAN / PacGAN's Stacked MNIST definitions): G draws `eval_samples` images from
fixed noise (26,000 in PacGAN's VEEGAN experiment), in batches of the training batch size (G
stays in train mode, as for every ganbench evaluation); each channel is labelled by the
classifier's argmax, and an image's class is the channels' digits read as one number
(R = hundreds). Then

- `label_modes<n>`: the number of classes with at least one sample (of 10^channels);
- `label_kl<n>`: KL(generated class histogram || uniform over 10^channels), in nats: 0 when
  every class is equally frequent, log(10^channels) when one class takes every sample. With
  n samples from the uniform itself it is not 0 but about (K - 1) / (2n) (0.019 for K = 1,000,
  n = 26,000): the finite-sample floor.
- `cis<n>`: a classifier score in the form of the Inception Score, exp(E_x KL(p(y|x) || p(y)))
  with ganbench's own classifier (p(y|x) the product of the channels' softmaxes), one split.
  It is NOT the Inception Score, and is comparable only between runs with the same classifier
  (its sha256 is in the protocol tag). Range 1 .. 10^channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.data.base import Dataset, dataset_classifier
from ganbench.metrics import LABEL_OUTPUTS, count_label
from ganbench.metrics.classifier import VERSION, Classifier, get_classifier

CLASSES = 10  # per channel


def joint_labels(channel_labels: Tensor) -> Tensor:
    """(N, C) per-channel classes -> (N,) joint class, channel 0 the most significant digit."""
    c = channel_labels.shape[1]
    place = CLASSES ** torch.arange(c - 1, -1, -1, device=channel_labels.device)
    return (channel_labels.long() * place).sum(1)


def modes_covered(labels: Tensor, n_classes: int) -> int:
    """Classes in 0..n_classes-1 that at least one sample falls in."""
    return int(torch.bincount(labels.long(), minlength=n_classes).gt(0).sum())


def kl_to_uniform(labels: Tensor, n_classes: int) -> float:
    """KL(empirical class histogram || uniform) = sum_k p_k log(p_k K), 0 log 0 = 0."""
    p = torch.bincount(labels.long(), minlength=n_classes).double()
    p = p[p > 0] / p.sum()
    return float((p * (p * n_classes).log()).sum())


def classifier_score(channel_probs: Tensor, chunk: int = 2048) -> float:
    """exp(E_x KL(p(y|x) || p(y))) for channel_probs (N, C, 10), p(y|x) = prod_c p_c(y_c|x)
    over the 10^C joint classes. Computed in float64, in chunks of samples."""
    probs = channel_probs.double()
    n, c, k = probs.shape

    def joint(p: Tensor) -> Tensor:  # (B, C, k) -> (B, k^C)
        out = p[:, 0]
        for i in range(1, c):
            out = (out[:, :, None] * p[:, i][:, None, :]).reshape(len(p), -1)
        return out

    marginal = sum(joint(probs[i:i + chunk]).sum(0) for i in range(0, n, chunk)) / n
    log_m = marginal.clamp_min(1e-300).log()
    kl = 0.0
    for i in range(0, n, chunk):
        pj = joint(probs[i:i + chunk])
        kl += float((pj * (pj.clamp_min(1e-300).log() - log_m)).sum())
    return math.exp(kl / n)


class LabelEvaluator:
    """Scores a generator with the classifier of its dataset (the `labels` and `cis`
    entries of `image_metrics`)."""

    def __init__(self, data: Dataset, metrics: list[str], n: int, batch_size: int,
                 root) -> None:
        name = dataset_classifier(data.name)
        if name is None or data.images is None:
            raise ValueError(f"image_metrics {metrics}: no ganbench classifier labels dataset "
                             f"{data.name!r}; they exist for datasets declared @labelled_by")
        self.metrics, self.n, self.batch_size = metrics, n, batch_size
        self.channels, self.size = int(data.images.shape[1]), int(data.images.shape[-1])
        self.clf: Classifier = get_classifier(name, root)  # trains it once if missing
        self.n_classes = CLASSES ** self.channels

    @classmethod
    def for_run(cls, cfg, data: Dataset) -> LabelEvaluator | None:
        wanted = [m for m in cfg.image_metrics if m in LABEL_OUTPUTS]
        if not wanted:
            return None
        return cls(data, wanted, cfg.eval_samples, cfg.batch_size, cfg.data_root)

    def protocol(self) -> str:
        c = self.clf
        return (f"classifier={c.name}-cnn-{VERSION}@{c.sha256[:16]};test_acc={c.accuracy:.4f};"
                f"gen={self.n};channels={self.channels};classes={self.n_classes};"
                "label=argmax per channel;mode=>=1 sample")

    @torch.no_grad()
    def channel_probs(self, g: nn.Module, z: Tensor) -> Tensor:
        """(N, C, 10) class probabilities of each channel of G(z), G in the mode it is in."""
        out = []
        for i in range(0, len(z), self.batch_size):
            x = g(z[i:i + self.batch_size]).float()
            if x.shape[-1] != self.size:  # a 64x64 G on 28x28 data is scored at 28
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                  antialias=True)
            b, c = x.shape[:2]
            p = self.clf.probs(x.clamp(-1, 1).reshape(b * c, 1, self.size, self.size))
            out.append(p.reshape(b, c, CLASSES))
        return torch.cat(out)

    def score(self, probs: Tensor) -> dict[str, float]:
        """The metrics of (N, C, 10) channel probabilities."""
        label, out = count_label(len(probs)), {}
        if "labels" in self.metrics:
            labels = joint_labels(probs.argmax(2))
            out[f"label_modes{label}"] = float(modes_covered(labels, self.n_classes))
            out[f"label_kl{label}"] = kl_to_uniform(labels, self.n_classes)
        if "cis" in self.metrics:
            out[f"cis{label}"] = classifier_score(probs)
        return out

    def __call__(self, g: nn.Module, z: Tensor) -> tuple[dict[str, float], dict[str, str]]:
        """(metrics, tags) of G on the noise z (len(z) = eval_samples)."""
        metrics = self.score(self.channel_probs(g, z))
        return metrics, {f"protocol.{k}": self.protocol() for k in metrics}
