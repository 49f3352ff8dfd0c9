"""ACGAN (Odena et al. 2017): D's auxiliary classifier, its cross-entropy terms for D and G
on the step's bound labels, and the conditional run it needs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers.data import TINY_LABELLED
from helpers.tricks import make

from ganbench.config import ConfigError, RunConfig
from ganbench.models.conditional import bind_labels
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.loop import Trainer
from ganbench.tricks.base import StepContext


def cfg(tmp_path, **kw) -> RunConfig:
    base = dict(dataset=TINY_LABELLED, model="sngan32", conditional=True, g_width=2,
                d_width=4, steps=3, batch_size=8, device="cpu", log_every=1,
                eval_samples=16, loss="hinge", data_root=tmp_path, tricks={"acgan": {}})
    return validate(RunConfig(**{**base, **kw}))


def test_d_gets_a_classifier_in_place_of_the_projection(tmp_path):
    tr = Trainer(cfg(tmp_path))
    assert tr.d.head.embed is None and tr.d.head.classifier.out_features == 4
    assert tr.n_classes == 4 and tr.g.n_classes == 4  # G stays conditional


@pytest.mark.parametrize("on_fakes", [True, False])
def test_d_term_is_the_cross_entropy_on_reals_and_fakes(tmp_path, on_fakes):
    torch.manual_seed(0)
    tr = Trainer(cfg(tmp_path))
    trick = make("acgan", weight=0.5, on_fakes=on_fakes)
    real, fake = torch.randn(6, 3, 32, 32).tanh(), torch.randn(6, 3, 32, 32).tanh()
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    with bind_labels([tr.g, tr.d], y):
        ctx = StepContext(tr.g, tr.d, real, fake, None, tr.d(fake), 0)
        term = trick.d_terms(ctx)["ac"]
        expected = F.cross_entropy(tr.d.classify(real), y)
        if on_fakes:
            expected = expected + F.cross_entropy(tr.d.classify(fake), y)
    torch.testing.assert_close(term, 0.5 * expected)


def test_g_term_is_the_cross_entropy_on_fakes_and_reaches_g(tmp_path):
    tr = Trainer(cfg(tmp_path))
    trick = make("acgan")
    y = torch.tensor([3, 2, 1, 0])
    with bind_labels([tr.g, tr.d], y):
        fake = tr.g(torch.randn(4, 128))
        ctx = StepContext(tr.g, tr.d, None, fake, None, tr.d(fake), 0)
        term = trick.g_terms(ctx)["ac"]
        torch.testing.assert_close(term, F.cross_entropy(tr.d.classify(fake), y))
    term.backward()
    assert tr.g.l1.weight.grad is not None and tr.g.l1.weight.grad.abs().sum() > 0


def test_trains_and_logs_its_terms(tmp_path):
    tracker = MemoryTracker()
    result = train(cfg(tmp_path, tricks={"acgan": {}, "spectral_norm": {}}), tracker)
    assert result.status == "finished"
    assert {"train/d/ac", "train/g/ac"} <= {k for _, k, _ in tracker.metrics}


def test_d_learns_to_classify_the_real_classes(tmp_path):
    # tiny-labelled's classes differ in brightness: a few D steps lower the real-data loss.
    tr = Trainer(cfg(tmp_path, g_width=4, d_width=8, batch_size=32, lr=2e-3))
    x, y = tr.real_labelled(256)
    before = F.cross_entropy(tr.d.classify(x), y).item()
    for step in range(30):
        tr.d_step(step)
    assert F.cross_entropy(tr.d.classify(x), y).item() < 0.7 * before


def test_needs_a_conditional_run(tmp_path):
    with pytest.raises(ConfigError, match=r"conflict: acgan: acgan classifies by class: it "
                                          r"needs a class-conditional run \(suggestion: "
                                          r"conditional: true") as e:
        cfg(tmp_path, conditional=False)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="conditional: model 'dcgan28' has no"):
        cfg(tmp_path, model="dcgan28", g_width=None, d_width=None)
