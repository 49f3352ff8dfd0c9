"""Issue 27, class 8: a SIGKILL of the sweep controller ends its workers, fork server and
resource tracker within seconds (they ran on as orphans that kept pulling runs), and the
next plain rerun finishes every run exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Long enough to be killed mid-run, short enough to rerun on a busy 2-core machine.
SPEC = ("name: orph\nbase: {dataset: ring8, steps: 1500, batch_size: 16, eval_samples: 256}\n"
        "tricks:\n  ttur: [off, on]\nseeds: 1\n")


def _descendants(pid: int) -> set[int]:
    rows = [line.split() for line in subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines()]
    kids, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in ((int(a), int(b)) for a, b in rows):
            if parent in kids and child not in kids:
                kids.add(child)
                grew = True
    return kids - {pid}


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_killed_controller_leaves_no_process_behind(tmp_path):
    (tmp_path / "s.yaml").write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    cmd = [sys.executable, "-m", "ganbench", "sweep", "s.yaml", "--results", "res"]
    p = subprocess.Popen([*cmd, "--workers", "2"], cwd=tmp_path, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while len(kids) < 4 and time.monotonic() < deadline:  # tracker, server, 2 workers
            time.sleep(0.5)
            kids = _descendants(p.pid)
        assert len(kids) >= 4, kids
        time.sleep(2)  # the workers are training
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        deadline = time.monotonic() + 20
        while any(_running(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [k for k in kids if _running(k)], "orphans left running"
    finally:
        for k in kids:
            if _running(k):
                os.kill(k, signal.SIGKILL)
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
