"""Image folders: PNG/JPEG trees (with class sub-folders or not, a corrupt file, mixed sizes)
decoded through the real loader, cached once, and the run's `data.skipped` tag."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.image_files import make_tree, png
from PIL import Image

from ganbench.config import ConfigError
from ganbench.data import DATASETS, folder
from ganbench.data.base import DataTooLargeError, DataUnavailableError, dataset_info
from ganbench.specs.load import load_run_config


def test_class_folders_give_labels_and_every_image_is_square_rgb(tmp_path):
    src = make_tree(tmp_path / "imgs")
    png(src / "dog" / "deep" / "x.jpg", 30, 30, 99, "JPEG")  # nested: still class "dog"
    (src / "cat" / "notes.txt").write_text("not an image")
    data = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert data.images.shape == (7, 3, 8, 8) and data.images.dtype == torch.uint8
    assert data.classes == 2 and data.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert data.skipped == 0 and str(src) in data.source
    assert dataset_info("folder", {"path": str(src)}).classes == 2


def test_centre_crop_then_resize(tmp_path):
    src = tmp_path / "imgs"
    arr = np.zeros((8, 16, 3), np.uint8)
    arr[:, 4:12] = 200  # the centre square is bright, the side strips black
    (src).mkdir()
    Image.fromarray(arr).save(src / "a.png")
    data = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert data.labels is None and data.classes is None
    assert int(data.images.min()) == 200  # nothing of the strips survives the crop


def test_a_corrupt_image_is_skipped_and_counted(tmp_path):
    src = make_tree(tmp_path / "imgs")
    (src / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good = src / "dog" / "0.png"
    (src / "dog" / "truncated.png").write_bytes(good.read_bytes()[:60])
    data = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert data.skipped == 2 and len(data.images) == 6
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]  # labels follow the images kept


def test_the_second_load_does_not_decode(tmp_path, monkeypatch):
    src = make_tree(tmp_path / "imgs", per_class=4)
    calls = []
    real = folder.decode
    monkeypatch.setattr(folder, "decode", lambda f, r: calls.append(f) or real(f, r))
    first = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert len(calls) == 8
    second = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert len(calls) == 8  # read from the cache
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert list((tmp_path / "root" / "cache" / "folders").glob("*.npz"))
    DATASETS.get("folder")(tmp_path / "root", path=src, resolution=16)  # another resolution
    assert len(calls) == 16
    png(src / "cat" / "new.png", 9, 9, 5)  # a changed folder is decoded again
    third = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert len(calls) == 16 + 9 and len(third.images) == 9


def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path):
    src = make_tree(tmp_path / "imgs")
    DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    (cache,) = (tmp_path / "root" / "cache" / "folders").glob("*.npz")
    cache.write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="rebuilding"):
        data = DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)
    assert len(data.images) == 6


def test_empty_and_missing_folders_are_one_line_errors(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("x")
    for path, what in ((tmp_path / "empty", "no PNG or JPEG"), (tmp_path / "nope", "not a folder")):
        with pytest.raises(DataUnavailableError) as e:
            DATASETS.get("folder")(tmp_path / "root", path=path, resolution=8)
        assert what in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_only_corrupt_files_is_an_error_not_an_empty_dataset(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"nope")
    with pytest.raises(DataUnavailableError, match="none of its 1"):
        DATASETS.get("folder")(tmp_path / "root", path=tmp_path / "bad", resolution=8)


def test_too_many_images_for_memory_are_refused_before_decoding(tmp_path, monkeypatch):
    src = make_tree(tmp_path / "imgs")
    monkeypatch.setenv("GANBENCH_DATA_MEMORY", "100")
    monkeypatch.setattr(folder, "decode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(DataTooLargeError, match="6 images.*8x8.*would not fit"):
        DATASETS.get("folder")(tmp_path / "root", path=src, resolution=8)


# ---- YAML: dataset: {name: folder, path: ..., resolution: ...}


def test_yaml_mapping_relative_path_and_identity(tmp_path):
    make_tree(tmp_path / "imgs")
    run = tmp_path / "run.yaml"
    run.write_text("dataset: {name: folder, path: imgs, resolution: 28}\nmodel: dcgan28\n")
    cfg = load_run_config(run)
    assert cfg.dataset == "folder"
    assert cfg.dataset_options == {"path": str((tmp_path / "imgs").resolve()), "resolution": 28}
    assert cfg.identity()["dataset_options"]["resolution"] == 28
    plain = tmp_path / "plain.yaml"
    plain.write_text("dataset: mnist\nmodel: dcgan28\n")
    old = load_run_config(plain)
    assert old.dataset == "mnist" and "dataset_options" not in old.identity(exclude_defaults=True)


@pytest.mark.parametrize("text, expect", [
    ("dataset: {name: folder, path: imgs, resolution: 0}\n", "dataset.resolution"),
    ("dataset: {name: folder, path: imgs, colour: red}\n", "dataset.colour: unknown field"),
    ("dataset: {name: folder}\n", "dataset.path"),
    ("dataset: {name: mnist, path: imgs}\n", "'mnist' takes no options"),
    ("dataset: {path: imgs}\n", "needs `name:`"),
    ("dataset: {name: folder, path: imgs, resolution: 16}\nmodel: dcgan28\n",
     "needs 28x28 images"),
])
def test_bad_dataset_mappings_are_one_line_errors(tmp_path, text, expect):
    make_tree(tmp_path / "imgs")
    (tmp_path / "run.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_run_config(tmp_path / "run.yaml")
    assert expect in str(e.value) and "run.yaml:" in str(e.value)
