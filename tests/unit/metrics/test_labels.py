"""Classifier metrics on planted label distributions, and their names/goals in the config."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.metrics import available_metrics, metric_goal, missing_metric_hint
from ganbench.metrics.labels import classifier_score, joint_labels, kl_to_uniform, modes_covered

K = 1000


def test_joint_labels_read_channels_as_digits():
    assert joint_labels(torch.tensor([[1, 2, 3], [0, 0, 7], [9, 9, 9]])).tolist() == [123, 7, 999]
    assert joint_labels(torch.tensor([[4], [8]])).tolist() == [4, 8]


@pytest.mark.parametrize("k", [1, 2, 37, 500, 999, 1000])
def test_samples_from_exactly_k_modes_cover_k(k):
    gen = torch.Generator().manual_seed(k)
    modes = torch.randperm(K, generator=gen)[:k]
    # every mode at least once, then 26k samples among the k modes
    labels = torch.cat([modes, modes[torch.randint(k, (26000,), generator=gen)]])
    assert modes_covered(labels, K) == k


def test_single_mode_kl_is_log_k():
    assert kl_to_uniform(torch.full((26000,), 417), K) == pytest.approx(math.log(K), abs=1e-12)


def test_k_equal_modes_kl_is_log_k_over_k():
    labels = torch.arange(250).repeat(40)  # 250 modes, exactly equal counts
    assert kl_to_uniform(labels, K) == pytest.approx(math.log(K / 250), abs=1e-12)
    assert kl_to_uniform(torch.arange(K).repeat(26), K) == pytest.approx(0.0, abs=1e-12)


def test_uniform_labels_kl_is_zero_within_sampling_error():
    # 2n KL ~ chi2(K - 1) under the uniform: mean (K-1)/(2n), sd sqrt(2(K-1))/(2n).
    n = 26000
    mean, sd = (K - 1) / (2 * n), math.sqrt(2 * (K - 1)) / (2 * n)
    values = [kl_to_uniform(torch.randint(K, (n,), generator=torch.Generator().manual_seed(s)),
                            K) for s in range(20)]
    for v in values:
        assert abs(v - mean) < 5 * sd
    assert abs(sum(values) / len(values) - mean) < 2 * sd  # the mean of 20: sd / sqrt(20)
    assert max(values) < 0.03


def one_hot_channels(labels: torch.Tensor, channels: int) -> torch.Tensor:
    digits = torch.stack([labels // 10 ** (channels - 1 - c) % 10 for c in range(channels)], 1)
    return torch.nn.functional.one_hot(digits, 10).double()  # (N, C, 10)


def test_classifier_score_extremes():
    every = torch.arange(K)  # confident and uniform over all 1,000 classes: the maximum
    assert classifier_score(one_hot_channels(every, 3)) == pytest.approx(K, rel=1e-9)
    one = torch.full((500,), 42)  # confident, one class: 1
    assert classifier_score(one_hot_channels(one, 3)) == pytest.approx(1.0, rel=1e-9)
    flat = torch.full((300, 3, 10), 0.1)  # no confidence: 1 whatever the spread
    assert classifier_score(flat) == pytest.approx(1.0, rel=1e-9)
    ten = one_hot_channels(torch.arange(10).repeat(7), 1)  # MNIST-like: 10 classes
    assert classifier_score(ten) == pytest.approx(10.0, rel=1e-9)


def test_classifier_score_chunks_do_not_change_it():
    probs = torch.softmax(torch.randn(777, 3, 10, generator=torch.Generator().manual_seed(0)), 2)
    assert classifier_score(probs, chunk=50) == pytest.approx(classifier_score(probs), rel=1e-12)


def test_names_goals_and_hints():
    cfg = RunConfig(dataset="stacked_mnist", model="dcgan28", image_metrics=["cis", "labels"],
                    eval_samples=26000)
    assert cfg.image_metrics == ["labels", "cis"]  # canonical order
    assert available_metrics("images", cfg) == {"label_modes26k": "max", "label_kl26k": "min",
                                                "cis26k": "max"}
    assert metric_goal("label_modes26k") == "max" and metric_goal("label_kl2500") == "min"
    assert metric_goal("cis10k") == "max"
    both = RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fid", "labels"],
                     fid_samples=500, eval_samples=1000)
    assert set(available_metrics("images", both)) == {"fid500", "label_modes1k", "label_kl1k"}
    hint = missing_metric_hint("label_modes26k", RunConfig(dataset="mnist", model="dcgan28"))
    assert "image_metrics: [labels]" in hint and "eval_samples: 26000" in hint
