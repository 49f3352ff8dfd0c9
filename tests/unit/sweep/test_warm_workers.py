"""Warm workers (sweep/warm.py): made ready before the sweep is, stopped cleanly when it has
nothing to run, and handed exactly one context each; spawned ones (GPU workers; here forced
with device "cuda", which they never touch while they wait) and forked ones (a fork server,
for CPU workers on Linux)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ganbench.sweep import warm as warm_mod
from ganbench.sweep.warm import WarmWorkers, start_method, warm_workers

SPAWNED = ["cuda"]  # start_method: spawn, whatever this machine has


def test_unused_warm_workers_stop_without_running_anything():
    t0 = time.monotonic()
    with warm_workers(2, SPAWNED * 2) as warm:
        procs = list(warm.procs)
        assert len(procs) == 2 and all(p.is_alive() for p in procs)
    assert not any(p.is_alive() for p in procs)
    assert all(p.exitcode is not None for p in procs)
    assert time.monotonic() - t0 < 30


def test_a_warm_worker_told_none_exits_zero_after_its_imports():
    pool = WarmWorkers(1, SPAWNED)
    proc = pool.procs[0]
    time.sleep(0.1)
    pool._conns[0].send(None)  # what close() sends: the controller has nothing to run
    proc.join(timeout=120)
    assert proc.exitcode == 0
    pool._conns, pool.procs = [], []


@pytest.mark.parametrize("devices", [SPAWNED, ["cpu"]])
def test_take_needs_one_context_per_worker(devices):
    with warm_workers(1, devices) as warm:
        with pytest.raises(ValueError, match="2 contexts for 1 warm workers"):
            warm.take([object(), object()])
    assert warm.procs == [] and not warm.ready


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver: Linux only")
def test_cpu_workers_fork_from_one_server_gpu_workers_are_spawned(monkeypatch):
    assert start_method(["cpu", "cpu"]) == "forkserver"
    assert start_method(["cpu", "cuda:0"]) == "spawn"  # CUDA must not meet a fork
    assert start_method(["cuda"]) == "spawn"
    monkeypatch.setattr(warm_mod.Path, "glob", lambda self, pat: iter([Path("/dev/nvidia0")]))
    assert start_method(["auto"]) == "spawn"  # auto on a machine with a GPU


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver: Linux only")
def test_the_fork_server_is_stopped_with_the_warm_workers():
    from multiprocessing import forkserver

    with warm_workers(2, ["cpu", "cpu"]) as warm:
        assert warm.ready and warm.procs == []  # nothing forked before take()
        pid = forkserver._forkserver._forkserver_pid
        assert pid is not None and _alive(pid)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)  # ended, not left to tear down after the command


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie); read from /proc so that the pid is not reaped here:
    multiprocessing reaps it when it next looks for a server."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_start_early_only_for_a_sweep_with_no_study_yet(tmp_path):
    from ganbench.cli.sweep import _new_sweep

    spec = tmp_path / "s.yaml"
    spec.write_text("name: fresh\ntricks: {ttur: {}}\n")
    results = tmp_path / "results"
    assert _new_sweep(spec, results, None)
    (results / "fresh").mkdir(parents=True)
    (results / "fresh" / "study.journal").write_text("")
    assert not _new_sweep(spec, results, None)  # a rerun may have nothing to do: cold
    assert _new_sweep(spec, results, "postgresql://db/x")  # shared: always new work here
    for bad in ("name: [", "- a list\n", "tricks: {ttur: {}}\n", ""):
        spec.write_text(bad)
        assert not _new_sweep(spec, results, None)  # its error comes from loading it
    assert not _new_sweep(tmp_path / "missing.yaml", results, None)


def test_a_refused_sweep_file_stops_the_early_workers(tmp_path):
    import subprocess

    spec = tmp_path / "s.yaml"
    spec.write_text("name: refused\ntricks: {no_such_trick: {}}\n")
    t0 = time.monotonic()
    got = subprocess.run([sys.executable, "-m", "ganbench", "sweep", str(spec), "--workers",
                          "2", "--results", str(tmp_path / "r")], capture_output=True,
                         text=True, timeout=120)  # output read to its end: no server holds it
    assert got.returncode == 2, got.stderr
    assert "no_such_trick" in got.stderr and "Traceback" not in got.stderr
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "r" / "refused").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver: Linux only")
def test_a_forked_worker_gets_the_environment_of_when_it_was_forked(tmp_path, monkeypatch):
    # The server started with an older environment; a worker must see today's (as a spawned
    # one would): GANBENCH_* settings, plugins, data roots.
    import subprocess

    out = tmp_path / "env.txt"
    script = tmp_path / "probe.py"
    script.write_text(f"""
import os, sys


class Probe:  # a WorkerContext stand-in: the worker's first look at it records the env
    def __getattr__(self, name):
        open({str(out)!r}, "w").write(os.environ.get("GANBENCH_PROBE", "unset"))
        sys.exit(0)


if __name__ == "__main__":
    from ganbench.sweep import warm
    ctx = warm.process_context(["cpu"])  # the server starts without GANBENCH_PROBE
    os.environ["GANBENCH_PROBE"] = "set after the server started"
    procs = warm.start(ctx, [Probe()])
    procs[0].join(60)
    warm.stop_fork_server()
    sys.exit(procs[0].exitcode)
""")
    monkeypatch.delenv("GANBENCH_PROBE", raising=False)
    got = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert got.returncode == 0, got.stderr
    assert out.read_text() == "set after the server started"


def test_a_ctrl_c_while_workers_are_forked_is_held_until_every_one_has_started():
    # Asking the fork server for a worker waits for its imports; a Ctrl-C cutting that request
    # would leave a worker forked later that no one knows of (seen: the sweep ran on, exit 0).
    import signal

    from ganbench.sweep.warm import sigint_deferred

    done = []
    # Delivered to the handler of before: Python's own here (an earlier test in this process
    # may have left Ctrl-C ignored, as an interrupted command does on its way out).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with sigint_deferred():
                signal.raise_signal(signal.SIGINT)
                done.append("the body went on")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    assert done == ["the body went on"]
