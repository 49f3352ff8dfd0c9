"""A user's own images: `dataset: {name: folder, path: DIR, resolution: 64}`.

DIR holds PNG/JPEG files, in sub-folders or not. When DIR has no image of its own and two or
more sub-folders that hold images, each sub-folder is a class (sorted by name: the first is
class 0) and the dataset is labelled; otherwise every image under DIR is one unlabelled set.
Each image is converted to RGB, centre-cropped to a square and resized (bicubic, PIL's
antialiased resampling) to `resolution`, so images of mixed sizes are fine. A file that does
not decode is skipped and counted (the run's `data.skipped` tag), never a crash mid-run.

Decoding is done once: the uint8 result is cached under <data root>/cache/folders/ in a
numpy .npz (read with allow_pickle=False) keyed by the folder's content (every image's
relative path, size and mtime) and the resolution, so a later run, or another seed, reads
the cache; changing, adding or removing any image decodes again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ganbench.data.base import (
    DataInfo,
    Dataset,
    DatasetSpec,
    DataUnavailableError,
    check_fits,
    register_dataset,
)
from ganbench.safefile import MAX_DATA_BYTES, regular_file

EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 64_000_000  # one image's claimed width x height (8000 x 8000)
CACHE_VERSION = 1  # bump when decoding changes, so old caches are not read


class FolderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(..., description="the image folder (relative: to the YAML file)")
    resolution: int = Field(64, ge=4, le=1024, description="side of the square images")


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in EXTENSIONS and not p.name.startswith(".") and p.is_file()


def _images_under(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if _is_image(p)
                  and not any(part.startswith(".") for part in p.relative_to(d).parts))


def scan(path: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """(image files, their class indices or None, class names) of an image folder."""
    path = Path(path)
    if not path.is_dir():
        raise DataUnavailableError(f"dataset path {path} is not a folder: give dataset: "
                                   "{name: folder, path: DIR} a folder of PNG/JPEG images")
    own = [p for p in path.iterdir() if _is_image(p)]
    subs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = [(d.name, _images_under(d)) for d in subs]
    per_class = [(n, files) for n, files in per_class if files]
    if not own and len(per_class) >= 2:
        files = [f for _, fs in per_class for f in fs]
        labels = [i for i, (_, fs) in enumerate(per_class) for _ in fs]
        return files, labels, [n for n, _ in per_class]
    files = _images_under(path)
    if not files:
        raise DataUnavailableError(f"{path} has no PNG or JPEG images (sub-folders included): "
                                   "put .png/.jpg files there, optionally one sub-folder per "
                                   "class")
    return files, None, []


def content_key(path: Path, files: list[Path], resolution: int) -> str:
    """A digest of every image's relative path, size and mtime, and the resolution."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, resolution]).encode())
    for f in files:
        st = f.stat()
        h.update(json.dumps([f.relative_to(path).as_posix(), st.st_size,
                             st.st_mtime_ns]).encode())
    return h.hexdigest()[:24]


def decode(file: Path, resolution: int) -> np.ndarray | None:
    """uint8 (3, r, r): RGB, centre-cropped, resized; None when the file does not decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            # The header's claimed size, before anything is decoded: a few bytes can claim a
            # 10^9-pixel image (PIL refuses only beyond ~179M pixels, after a warning).
            if im.size[0] * im.size[1] > MAX_PIXELS:
                return None
            im = im.convert("RGB")  # also forces the full decode (truncated files fail here)
            w, h = im.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            im = im.resize((resolution, resolution), Image.Resampling.BICUBIC, box=box)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
            Image.DecompressionBombError):
        return None


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # readers never see half a file
    except BaseException:
        os.unlink(tmp)
        raise


def _npz_fits(path: Path) -> None:
    """ValueError when an array in the .npz claims more bytes than its member holds (np.load
    allocates the claimed shape before reading a zip member)."""
    import zipfile

    from numpy.lib import format as npformat

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                version = npformat.read_magic(f)
                read = (npformat.read_array_header_1_0 if version == (1, 0)
                        else npformat.read_array_header_2_0)
                shape, _, dtype = read(f)
            if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"{info.filename} claims {shape} of {dtype}, more than its "
                                 f"{info.file_size:,} bytes")


def _read_cache(path: Path, resolution: int) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        regular_file(path, "cache", MAX_DATA_BYTES)
        _npz_fits(path)  # the headers' claimed shapes, before np.load allocates them
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in ("images", "labels", "skipped", "classes")}
        x = out["images"]
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (3, resolution, resolution):
            raise ValueError(f"unexpected {x.dtype} {x.shape}")
        return out
    except Exception as e:  # a damaged cache is rebuilt, not fatal
        warnings.warn(f"rebuilding unreadable cache {path}: {e}", stacklevel=3)
        return None


def decode_all(files: list[Path], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N_ok, 3, r, r), bool mask of the files that decoded). PIL releases the GIL
    while it decodes and resizes, so threads use every core."""
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        decoded = list(pool.map(lambda f: decode(f, resolution), files))
    ok = np.array([d is not None for d in decoded], dtype=bool)
    good = [d for d in decoded if d is not None]
    images = (np.stack(good) if good
              else np.zeros((0, 3, resolution, resolution), dtype=np.uint8))
    return images, ok


@functools.lru_cache(maxsize=64)
def _classes(path: str, mtime_ns: int) -> int | None:
    """Class count of a folder (None = unlabelled); memoised, as a sweep checks every cell."""
    _, labels, names = scan(Path(path))
    return len(names) if labels is not None else None


def _info(options: dict[str, Any]) -> DataInfo:
    res = options.get("resolution", 64)
    res = res if isinstance(res, int) else None
    try:  # labelled iff the folder has class sub-folders; unknown (None) until it exists
        path = Path(options["path"]).expanduser()
        classes = _classes(str(path), path.stat().st_mtime_ns)
    except (KeyError, TypeError, OSError, DataUnavailableError):
        classes = None
    return DataInfo(classes=classes, max_size=res)


def check_folder(root: Path, path: str | Path | None = None, resolution: int = 64) -> None:
    """The folder exists and holds images (listed, not decoded)."""
    if path is None:
        raise DataUnavailableError("dataset folder needs a path: write dataset: {name: folder, "
                                   "path: DIR, resolution: 64}")
    scan(Path(path).expanduser())


def load_folder(root: Path, path: str | Path | None = None, resolution: int = 64) -> Dataset:
    check_folder(root, path, resolution)
    path = Path(path).expanduser()
    files, labels, names = scan(path)
    check_fits(len(files) * 3 * resolution * resolution,
               f"{len(files)} images in {path} at {resolution}x{resolution}")
    key = content_key(path, files, resolution)
    cache = Path(root) / "cache" / "folders" / f"{key}.npz"
    parts = _read_cache(cache, resolution)
    if parts is None:
        images, ok = decode_all(files, resolution)
        lab = (np.asarray(labels, dtype=np.int64)[ok] if labels is not None
               else np.zeros(0, dtype=np.int64))
        parts = {"images": images, "labels": lab, "skipped": np.array(int((~ok).sum())),
                 "classes": np.array(names, dtype=str)}
        if len(images):
            _save(cache, parts)
    skipped = int(parts["skipped"])
    if len(parts["images"]) == 0:
        raise DataUnavailableError(f"{path}: none of its {len(files)} PNG/JPEG files could be "
                                   "decoded; check that they are real images")
    labelled = labels is not None
    return Dataset("folder", "images", f"folder:{path}@{key[:12]}",
                   images=torch.from_numpy(parts["images"]),
                   labels=torch.from_numpy(parts["labels"]) if labelled else None,
                   classes=len(names) if labelled else None, resize_once=True,
                   skipped=skipped)


register_dataset(DatasetSpec(
    # shape at the default resolution; a run's own is its `resolution` option
    "folder", "images", load_folder, shape=(3, 64, 64), options=FolderOptions, info=_info,
    check=check_folder,
    source="your PNG/JPEG images: dataset: {name: folder, path: DIR, resolution: 64}"))
