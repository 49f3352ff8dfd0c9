"""Files written whole or not at all: a temporary file in the same folder, then os.replace.

A full disk or a kill mid-write leaves the previous version (or nothing), never half a file
that a later read takes for the real one. Disk full is reported as one line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class DiskFullError(ValueError):
    """No space left on the device (a user-fixable condition, not a bug)."""


def disk_full(e: BaseException) -> bool:
    """Whether an error means the disk (or SQLite's database file) is full."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e).lower()
    return "database or disk is full" in text or "no space left on device" in text


def disk_full_message(e: BaseException, where: str | os.PathLike | None = None) -> str:
    path = getattr(e, "filename", None) or where
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    what = f"disk full writing {path}" if path else f"disk full ({first})"
    return (f"{what}: no space left on the device; nothing half-written is kept; free some "
            "space and rerun the same command to resume")


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask can only be
    read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` atomically, with
    the mode a plain open() would give (mkstemp's 0600 would make reports private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if disk_full(e) and not isinstance(e, DiskFullError):
            raise DiskFullError(disk_full_message(e, path)) from e
        raise


def write_atomic(path: Path, data: str | bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())


def save_figure(fig, path: Path, **kwargs) -> Path:
    """`fig.savefig` whole or not at all (a full disk left a 0-byte PNG and an error that
    did not name it); the figure is closed either way."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    finally:
        plt.close(fig)
    return path


@contextlib.contextmanager
def one_line_disk_full() -> Iterator[None]:
    """Turn a full disk met anywhere in the body into a DiskFullError (one line, no traceback)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as e:
        if disk_full(e):
            raise DiskFullError(disk_full_message(e)) from None
        raise
