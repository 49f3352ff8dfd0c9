"""The new datasets train end to end on CPU (a few steps) through the real loaders, record
their source and skipped files, and are refused up front where they cannot serve the run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from helpers.image_files import cifar10_root, make_tree

from ganbench.config import RunConfig
from ganbench.data.base import Dataset, DataTooLargeError
from ganbench.specs.run import check_run, data_findings, validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")


def cfg_of(tmp_path, **kw) -> RunConfig:
    base = dict(steps=3, batch_size=4, device="cpu", log_every=1, eval_samples=8,
                data_root=tmp_path / "root", model="dcgan28")
    return validate(RunConfig(**{**base, **kw}))


def test_a_folder_trains_and_its_skipped_files_are_tagged(tmp_path):
    src = make_tree(tmp_path / "imgs")
    (src / "cat" / "bad.png").write_bytes(b"corrupt")
    tracker = MemoryTracker()
    cfg = cfg_of(tmp_path, dataset="folder",
                 dataset_options={"path": str(src), "resolution": 28})
    result = train(cfg, tracker=tracker)
    assert result.status == "finished"
    assert tracker.tags["data.skipped"] == "1" and str(src) in tracker.tags["data_source"]


def test_cifar10_trains_resized_once_to_the_models_side(tmp_path):
    cifar10_root(tmp_path)
    tracker = MemoryTracker()
    result = train(cfg_of(tmp_path, dataset="cifar10"), tracker=tracker)
    assert result.status == "finished" and "data.skipped" not in tracker.tags
    assert "cifar-10-batches-py" in tracker.tags["data_source"]


def test_resize_once_keeps_uint8_and_matches_a_per_batch_resize():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    once = Dataset("d", "images", "t", images=x, resize_once=True).resized(28)
    batch = Dataset("d", "images", "t", images=x).resized(28)
    assert once.images.dtype == torch.uint8 and once.images.shape == (6, 3, 28, 28)
    a = once.sample(6, torch.Generator().manual_seed(1))
    b = batch.sample(6, torch.Generator().manual_seed(1))
    assert (a - b).abs().max() <= 1 / 127.5 + 1e-6  # only the uint8 rounding differs


def conditional_findings(dataset: str, **options) -> list:
    cfg = RunConfig(dataset=dataset, dataset_options=options, model="sngan32", conditional=True)
    return [f for f in check_run(cfg) if f.trick == "conditional"]


def test_conditional_needs_a_labelled_dataset(tmp_path):
    (f,) = conditional_findings("stl10")
    assert f.kind == "conflict" and "no class labels" in f.message and "cifar10" in f.suggestion
    assert not conditional_findings("cifar10") and not conditional_findings("cifar100")
    assert conditional_findings("mnist")  # its GAN loader loads no labels
    one = make_tree(tmp_path / "flat", classes=("only",))  # one sub-folder: no labelling
    assert conditional_findings("folder", path=str(one), resolution=32)
    two = make_tree(tmp_path / "two")
    assert not conditional_findings("folder", path=str(two), resolution=32)


def test_a_resolution_the_dataset_cannot_give_is_a_conflict():
    f = data_findings(SimpleNamespace(dataset="cifar10", dataset_options={}, model="big",
                                      fid_protocol=None), 64)
    assert [x.trick for x in f] == ["model"] and "at most 32x32" in f[0].message
    assert not data_findings(SimpleNamespace(dataset="stl10", dataset_options={}, model="r48",
                                             fid_protocol=None), 48)
    assert not data_findings(SimpleNamespace(dataset="mnist", dataset_options={}, model="d64",
                                             fid_protocol=None), 64)  # MNIST: as before


def test_on_gpu_too_large_is_refused(monkeypatch):
    x = torch.zeros((4, 3, 8, 8), dtype=torch.uint8)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d=None: (100, 1000))
    with pytest.raises(DataTooLargeError, match="768 B of uint8 images would not fit.*cuda"):
        Dataset("d", "images", "t", images=x).to("cuda")


def built(name, tmp_path):
    from helpers.image_files import stl_root

    from ganbench.data import cifar

    if name == "cifar10":
        return cifar10_root(tmp_path), {}
    if name == "cifar100":
        folder = tmp_path / "cifar-100-python"
        folder.mkdir()
        for split in ("train", "test"):
            cifar.write_batch(folder / split, torch.zeros((2, 3, 32, 32), dtype=torch.uint8),
                              [7, 99], "fine_labels")
        return tmp_path, {}
    if name == "stl10":
        return stl_root(tmp_path)[0], {}
    return tmp_path / "root", {"path": str(make_tree(tmp_path / "imgs")), "resolution": 64}


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "folder"])
def test_each_new_dataset_loads_as_its_spec_says(name, tmp_path):
    from ganbench.data import DATASETS
    from ganbench.data.base import dataset_info, load_dataset

    root, options = built(name, tmp_path)
    spec, info = DATASETS.get(name), dataset_info(name, options)
    data = load_dataset(name, root, options)
    assert (data.name, data.kind) == (name, spec.kind) and data.shape == spec.shape
    assert data.images.dtype == torch.uint8
    assert (data.labels is not None) == (info.classes is not None) == (data.classes is not None)
    if info.classes is not None:
        assert data.classes == info.classes and int(data.labels.max()) < info.classes
    assert ("test" in info.splits) == (data.test_images is not None)
    assert info.max_size is None or data.images.shape[-1] <= info.max_size


@pytest.mark.parametrize("dataset", ["cifar10", "folder"])
def test_sngan32_trains_conditionally_on_the_files_labels(tmp_path, dataset):
    options = {}
    if dataset == "cifar10":
        cifar10_root(tmp_path, per_batch=10)  # labels 0..9 in every batch
    else:
        options = {"path": str(make_tree(tmp_path / "imgs")), "resolution": 32}
    cfg = cfg_of(tmp_path, dataset=dataset, dataset_options=options, model="sngan32",
                 conditional=True, g_width=16, d_width=16, loss="hinge")
    result = train(cfg, tracker=MemoryTracker())
    assert result.status == "finished"
