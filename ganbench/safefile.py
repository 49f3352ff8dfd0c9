"""Reading a file a user names: a regular file, checked before it is opened, read with a cap.

A FIFO given as a sweep file blocked `open` forever; `/dev/zero` was read until memory ran
out. Every loader (settings files, dataset files, checkpoints, weights, plugin files) goes
through `regular_file` (or `read_capped`, which calls it): anything that is not a regular
file is refused by its kind before it is opened, the file is opened non-blocking and checked
again on the open descriptor (it could have been swapped meanwhile), and no more than the
cap is ever read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Dataset files, checkpoints and weights (the settings files' own, smaller cap: yamlfile.py).
MAX_DATA_BYTES = int(os.environ.get("GANBENCH_MAX_DATA_BYTES", 8 << 30))  # 8 GiB

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket")]


class NotAFileError(ValueError):
    """The path is missing, unreadable or not a regular file; the message names it."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def regular_file(path: Path | str, what: str = "file", limit: int | None = None,
                 env: str = "GANBENCH_MAX_DATA_BYTES") -> int:
    """The size of `path` if it is a regular file of at most `limit` bytes; NotAFileError
    (one line naming the path and what it is) otherwise. Nothing is opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise NotAFileError(f"{path}: cannot read file ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(f"{path}: is {_kind(st.st_mode)}, not a {what}; give a regular "
                            "file")
    if limit is not None and st.st_size > limit:
        raise NotAFileError(f"{path}: {human(st.st_size)} is too large for a {what} (limit "
                            f"{human(limit)}; raise it with {env})")
    return st.st_size


def read_capped(path: Path | str, what: str = "file", limit: int = MAX_DATA_BYTES,
                env: str = "GANBENCH_MAX_DATA_BYTES") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see regular_file)."""
    regular_file(path, what, limit, env)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise NotAFileError(f"{path}: cannot read file ({e.strerror or e})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped for something else since the check
            raise NotAFileError(f"{path}: is {_kind(mode)}, not a {what}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 24, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise NotAFileError(f"{path}: more than {human(limit)}, too large for a {what} "
                                    f"(raise the limit with {env})")
        return b"".join(chunks)
    except OSError as e:
        raise NotAFileError(f"{path}: cannot read file ({e.strerror or e})") from None
    finally:
        os.close(fd)


def load_reason(e: BaseException) -> str:
    """One line saying why torch's weights-only load refused a file: the line naming the
    global or the damage, not torch's multi-line explanation of weights_only."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if ("GLOBAL" in ln or "Unsupported" in ln or "unsupported" in ln) and "weights_only" \
                not in ln:
            return ln[:200]
    keep = [ln for ln in lines if not ln.startswith(("Weights only load failed", "Check the "
                                                                                "documentation"))]
    return (keep or lines or [type(e).__name__])[0][:200]


def path_problem(path: Path | str) -> str | None:
    """Why the file system would refuse `path` as a file or folder to create (a part longer
    than NAME_MAX, the whole longer than PATH_MAX, a NUL byte), or None. Asked before a
    command starts work that ends by writing there (it ended in `File name too long`)."""
    text = os.fsencode(os.fspath(path))
    if b"\0" in text:
        return "it contains a NUL byte"
    anchor = Path(os.path.abspath(path))
    while anchor != anchor.parent:
        try:
            if anchor.exists():
                break
        except OSError:  # e.g. the name is too long to even ask about
            pass
        anchor = anchor.parent
    try:
        name_max = os.pathconf(anchor, "PC_NAME_MAX")
        path_max = os.pathconf(anchor, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    longest = max((len(part) for part in text.split(b"/")), default=0)
    if longest > name_max:
        return (f"a part of it is {longest} bytes long; this file system allows {name_max} "
                "per file or folder name")
    if len(os.fsencode(os.path.abspath(path))) >= path_max:
        return f"it is longer than this file system allows ({path_max} bytes)"
    return None
