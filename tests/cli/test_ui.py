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
    from ganbench.store.mlflow import MLflowStore, default_tracking_uri

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


# A stand-in for the MLflow server: listens on the port after a delay (or never), then exits.
FAKE = """
import socket, sys, time
port, listen = int(sys.argv[1]), sys.argv[2] == "1"
time.sleep(1.0)
if listen:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    time.sleep(1.0)
"""


@pytest.mark.parametrize("listens", [True, False])
def test_ui_prints_its_links_only_once_the_server_answers(tmp_path, monkeypatch, listens):
    """Issue 31, item 9: the links came ~25 s before the server accepted a connection."""
    from ganbench.cli import ui
    from ganbench.store.mlflow import MLflowStore, default_tracking_uri

    res = tmp_path / "results"
    res.mkdir()
    MLflowStore(default_tracking_uri(res))
    port = _free_port()
    monkeypatch.setattr(ui, "_command", lambda uri, host, p: [
        sys.executable, "-c", FAKE, str(p), "1" if listens else "0"])
    r = invoke("ui", "--results", res, "--port", port)
    assert r.exit_code == (0 if listens else 1), r.output
    assert (f"at http://127.0.0.1:{port}" in r.output) is listens
    assert ("exited (code 0) before it answered" in r.output) is not listens
