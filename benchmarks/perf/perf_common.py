"""What the perf scripts share: opening the device they measure and naming it in reports."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch


def open_device(name: str, threads: int | None) -> torch.device | None:
    """The device to measure (None, after saying why, when CUDA is asked for but missing);
    `threads` sets torch's intra-op threads for everything the script times."""
    if name == "cuda" and not torch.cuda.is_available():
        print("CUDA requested but not available", file=sys.stderr)
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} CPUs)"


def load_line(load0: float) -> str:
    """The 1-minute load average at the start and now: how quiet the measurement was."""
    return (f"1-min load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end "
            f"({os.cpu_count()} CPUs)")


def emit(text: str, out: Path | None) -> None:
    """Print a report, and write it to `out` when given (the committed results/perf file)."""
    print(text)
    if out:
        Path(out).write_text(text)
