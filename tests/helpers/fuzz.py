"""What every fuzz case asserts: exit != 0, one short `error:` message (<= 3 lines) naming
the file (and its line where one is expected), no traceback, answered in under 2 s."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from helpers.cli import invoke

LIMIT_S = 2.0


def timed(*args):
    t0 = time.perf_counter()
    result = invoke(*args)
    return result, time.perf_counter() - t0


def assert_short_error(result, seconds: float, *needles: str, path: Path | None = None,
                       line: int | None = None) -> str:
    out = result.output
    assert result.exit_code not in (0, None), out
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in out, out
    err = result.stderr.strip()
    assert err.startswith("error:"), err or out
    assert len(err.splitlines()) <= 3, f"not short:\n{err}"
    if path is not None:
        assert str(path) in err, f"{path} not named in {err!r}"
    if line is not None:
        assert re.search(rf"{re.escape(str(path))}:{line}\b", err), f":{line} not in {err!r}"
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    assert seconds < LIMIT_S, f"took {seconds:.2f} s"
    return err


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """Import what the commands import lazily (torch, mlflow, ...) before anything is timed:
    the limit is for answering, not for a cold interpreter."""
    import ganbench.report.build  # noqa: F401  (matplotlib: seconds on a loaded machine)
    import ganbench.sweep.runner  # noqa: F401
    import ganbench.train  # noqa: F401

    p = tmp_path_factory.mktemp("warm") / "w.yaml"
    p.write_text("steps: 0\n")
    invoke("run", p)
    invoke("sweep", p, "--dry-run")


class Payload:
    """An object whose pickle calls os.system to create `marker`: a payload every loader
    must refuse unrun (the marker must never exist)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def signed_checkpoint(path: Path, state) -> Path:
    """A checkpoint file with a valid header and sha256 over whatever torch.save wrote."""
    import hashlib
    import io

    import torch

    from ganbench.train.checkpoint import MAGIC

    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    path.write_bytes(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    return path
