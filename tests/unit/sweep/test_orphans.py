"""Issue 27, class 8: a SIGKILLed controller left its workers running as orphans that kept
pulling runs. A worker process watches the controller recorded in its environment and ends
within a second of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ganbench.sweep.orphans import CONTROLLER_ENV, EXIT_CODE, alive, watch_controller

ROOT = str(Path(__file__).parents[3])


def test_a_worker_ends_when_its_controller_is_killed():
    controller = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    env = {**os.environ, "PYTHONPATH": ROOT, CONTROLLER_ENV: str(controller.pid)}
    worker = subprocess.Popen([sys.executable, "-c", (
        "import time; from ganbench.sweep.orphans import watch_controller as w\n"
        "assert w() is not None\ntime.sleep(60)")], env=env)
    try:
        time.sleep(1.5)  # the worker is up and watching
        assert worker.poll() is None
        os.kill(controller.pid, signal.SIGKILL)
        controller.wait()
        assert worker.wait(timeout=15) == EXIT_CODE
    finally:
        for p in (controller, worker):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_zombie_controller_counts_as_gone():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    while alive(p.pid):  # exited, not reaped yet: a zombie
        time.sleep(0.05)
    assert not alive(p.pid)
    p.wait()
    assert alive(os.getpid())


def test_nothing_is_watched_without_a_controller(monkeypatch):
    monkeypatch.delenv(CONTROLLER_ENV, raising=False)
    assert watch_controller() is None
    assert watch_controller({CONTROLLER_ENV: str(os.getpid())}) is None  # itself
    assert watch_controller({CONTROLLER_ENV: "junk"}) is None
