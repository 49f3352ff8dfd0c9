"""CIFAR-10/100 and STL-10 read from small files in their real layouts (built in tmp_path),
through the real loaders; the restricted unpickler refuses a payload without running it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from helpers.image_files import cifar10_root, images, stl_root

from ganbench.data import DATASETS, cifar
from ganbench.data.base import DataTooLargeError, DataUnavailableError, dataset_info
from ganbench.data.unpickle import RefusedPickleError, safe_load


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")


def test_cifar10_reads_every_batch_in_order_with_labels(tmp_path):
    root = cifar10_root(tmp_path)
    data = DATASETS.get("cifar10")(root)
    assert data.images.dtype == torch.uint8 and data.images.shape == (15, 3, 32, 32)
    # batch order 1..5, each image's 3072 bytes are the R, G, B planes row by row
    np.testing.assert_array_equal(data.images[3:6].numpy(), images(3, 1))
    np.testing.assert_array_equal(data.test_images.numpy(), images(3, 5))
    assert data.labels.tolist() == [0, 1, 2] * 5 and data.classes == 10
    assert "cifar-10-batches-py" in data.source
    x = data.sample(4, torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 32, 32) and x.min() >= -1 and x.max() <= 1


def test_cifar100_uses_the_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    cifar.write_batch(folder / "train", images(4, 0), [99, 0, 5, 42], "fine_labels")
    cifar.write_batch(folder / "test", images(2, 1), [1, 2], "fine_labels")
    data = DATASETS.get("cifar100")(tmp_path)
    assert data.labels.tolist() == [99, 0, 5, 42] and data.classes == 100
    assert dataset_info("cifar100").classes == 100


@pytest.mark.parametrize("protocol", [2, 5])
def test_pickles_of_every_protocol_read(tmp_path, protocol):
    cifar.write_batch(tmp_path / "b", images(2, 0), [3, 4], protocol=protocol)
    x, y = cifar.read_batch(tmp_path / "b", cifar.LAYOUTS["cifar10"])
    np.testing.assert_array_equal(x, images(2, 0))
    assert y.tolist() == [3, 4]


def test_a_partial_folder_names_the_missing_batch(tmp_path):
    root = cifar10_root(tmp_path, skip=("data_batch_3",))
    with pytest.raises(DataUnavailableError) as e:
        DATASETS.get("cifar10")(root)
    msg = str(e.value)
    assert "data_batch_3" in msg and "cifar-10-batches-py" in msg and "torchvision" in msg
    assert "data_batch_1" in msg and "\n" not in msg  # what was found, on one line


def test_a_missing_folder_says_where_the_files_go(tmp_path):
    with pytest.raises(DataUnavailableError) as e:
        DATASETS.get("cifar10")(tmp_path / "empty")
    msg = str(e.value)
    assert str(tmp_path / "empty" / "cifar-10-batches-py") in msg
    assert "GANBENCH_OFFLINE" in msg and "\n" not in msg


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_batch_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    root = cifar10_root(tmp_path)
    evil = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": Payload(marker)}
    path = root / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(pickle.dumps(evil, protocol=2))
    pickle.loads(pickle.dumps(Payload(tmp_path / "control")))  # the control: it does run
    assert (tmp_path / "control").exists()
    with pytest.raises(DataUnavailableError) as e:
        DATASETS.get("cifar10")(root)
    assert "refused to unpickle" in str(e.value) and "system" in str(e.value)
    assert str(path) in str(e.value)
    assert not marker.exists()
    with pytest.raises(RefusedPickleError):
        safe_load(path)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [("builtins", "eval"), ("os", "system"),
                                     ("numpy", "load"), ("subprocess", "Popen")])
def test_globals_outside_the_allowed_set_are_refused(tmp_path, payload):
    mod, name = payload
    (tmp_path / "p").write_bytes(f"c{mod}\n{name}\n(S'1'\ntR.".encode())
    with pytest.raises(RefusedPickleError, match=f"{mod}.{name}"):
        safe_load(tmp_path / "p")


def test_a_truncated_batch_is_a_one_line_error(tmp_path):
    root = cifar10_root(tmp_path)
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(DataUnavailableError) as e:
        DATASETS.get("cifar10")(root)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_too_large_for_memory_is_refused_before_reading(tmp_path, monkeypatch):
    root = cifar10_root(tmp_path)
    monkeypatch.setenv("GANBENCH_DATA_MEMORY", "1K")
    monkeypatch.setattr(cifar, "read_batch", lambda *a: pytest.fail("read before the check"))
    with pytest.raises(DataTooLargeError) as e:
        DATASETS.get("cifar10")(root)
    assert "1.0 KiB" in str(e.value) and "GANBENCH_DATA_MEMORY" in str(e.value)


# ---- STL-10


def test_stl10_reads_unlabeled_then_train_and_resizes_once(tmp_path):
    root, u, t = stl_root(tmp_path)
    data = DATASETS.get("stl10")(root)
    assert data.images.shape == (5, 3, 96, 96) and data.classes is None
    np.testing.assert_array_equal(data.images.numpy(), np.concatenate([u, t]))
    # The file stores each channel column by column: its raw bytes are the transpose.
    raw = np.fromfile(root / "stl10_binary" / "train_X.bin", np.uint8).reshape(2, 3, 96, 96)
    np.testing.assert_array_equal(raw.transpose(0, 1, 3, 2), t)
    for side in (48, 32):
        small = data.resized(side)
        assert small.images.shape == (5, 3, side, side) and small.images.dtype == torch.uint8
        assert small.sample(3).shape == (3, 3, side, side)
        assert data.resized(side) is small  # stacked seeds share one resize
    assert dataset_info("stl10").max_size == 96


def test_stl10_truncated_file_is_refused(tmp_path):
    root, _, _ = stl_root(tmp_path)
    f = root / "stl10_binary" / "unlabeled_X.bin"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(DataUnavailableError, match="unlabeled_X.bin.*truncated"):
        DATASETS.get("stl10")(root)


def test_stl10_missing_files_say_where_they_go(tmp_path):
    root, _, _ = stl_root(tmp_path)
    (root / "stl10_binary" / "train_y.bin").unlink()
    with pytest.raises(DataUnavailableError) as e:
        DATASETS.get("stl10")(root)
    assert "train_y.bin" in str(e.value) and "torchvision" in str(e.value)
