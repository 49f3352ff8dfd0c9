"""How many torch threads and CPU worker processes suit this machine now.

The rule, from measurements on 2-core CPUs (issue 31; results/perf/sweep_throughput-cpu.md):
- Free cores: the cores this process may run on (os.sched_getaffinity) less the share other
  processes keep busy (the 1-minute load average over the machine's cores), at least 1. More
  threads than free cores made 300 ring8 steps take 80.8 s instead of 5.7 s on a loaded
  2-core machine: each OpenMP thread waits for a core at every operation.
- A 2-D (points) run takes 1 thread whatever the cores: its matrices are too small for a
  second thread to pay for the synchronisation (the 5.7 s above was one thread).
- A CPU sweep without --workers runs one worker per allowed core at 1 thread each (two
  1-thread processes trained 1.96x one: `procs K=2` in sweep_throughput-cpu.md; the quickstart
  took 1 m 51 s with 2 workers against 4 m 30 s with 1 worker of 2 threads), no more workers
  than runs to train or than memory holds (a worker takes ~0.7 GB: worker_memory-cpu.md, so
  1 GiB each); fewer workers than cores share the cores as threads. Allowed cores, not free
  ones: how many processes a sweep runs must not depend on the load of the minute it started
  (the same command would then behave differently from one start to the next); 1-thread
  workers on a busy machine only share the cores, they do not oversubscribe threads.
"""

from __future__ import annotations

import os

WORKER_BYTES = 2**30  # memory set aside per worker process (measured peak ~0.67 GB)


def allowed_cores() -> int:
    """The cores this process may run on (its affinity mask; all cores where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def free_cores() -> int:
    """Allowed cores less the share the machine's load average says others are using."""
    cores = allowed_cores()
    try:
        busy = os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, round(cores * max(0.0, 1.0 - busy)))


def available_memory() -> int:
    """Bytes of memory available now (Linux's MemAvailable); the physical size elsewhere.
    Read here, not through ganbench.data: a sweep sizes its workers before importing torch."""
    try:
        with open("/proc/meminfo") as f:
            info = {k: v for k, _, v in (line.partition(":") for line in f)}
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError, IndexError):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return WORKER_BYTES * 64


def run_threads(kind: str, processes: int = 1, cores: int | None = None) -> int:
    """Torch threads for one run of data `kind` ("points" or "images") in one of
    `processes` processes sharing `cores` (default: the free cores)."""
    if kind == "points":
        return 1
    return max(1, (cores or free_cores()) // max(1, processes))


def cpu_workers(runs: int, cores: int | None = None, memory: int | None = None) -> int:
    """Worker processes for a CPU sweep with `runs` to train: one per allowed core, at most
    one per run and per WORKER_BYTES of available memory."""
    memory = available_memory() if memory is None else memory
    return max(1, min(cores or allowed_cores(), max(1, runs), memory // WORKER_BYTES))
