"""`ganbench ui`: refuses a folder without a store, and SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import assert_user_error, invoke


def test_ui_refuses_a_results_folder_without_a_store(tmp_path):
    r = invoke("ui", "--results", tmp_path)
    assert_user_error(r, "no MLflow store at", "mlflow.db", "ganbench sweep")
    assert not (tmp_path / "mlflow.db").exists()  # nothing created


def test_ui_has_host_and_port_options():
    r = invoke("ui", "--help")
    assert r.exit_code == 0 and "--host" in r.output and "127.0.0.1" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_naming(text: str) -> list[int]:
    """Pids whose command line contains `text` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                out.append(int(d.name))
    return out


@pytest.mark.slow  # the MLflow server takes seconds to start
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
def test_sigterm_stops_the_ui_and_every_child(tmp_path):
    from ganbench.tracking.mlflow import MLflowStore, default_tracking_uri

    res = tmp_path / "results"
    res.mkdir()
    MLflowStore(default_tracking_uri(res))  # a store to serve
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    p = subprocess.Popen([sys.executable, "-m", "ganbench", "ui", "--results", str(res),
                          "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the UI answers
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        p.kill()
        pytest.fail("the MLflow UI did not start within 120 s")
    started = _processes_naming(str(res))
    assert len(started) >= 2  # ganbench ui and mlflow (and its server workers)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) is not None
    deadline = time.monotonic() + 20
    while _processes_naming(str(res)) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _processes_naming(str(res))
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(started)} processes left after SIGTERM"
