"""Which devices this machine has, and a one-line refusal for one it does not have."""

from __future__ import annotations

import re

DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]+)?)$"  # the spelling; RunConfig checks it


def describe() -> str:
    """'this machine: cpu, cuda:0, cuda:1' (torch imported on demand: only errors need it)."""
    import torch

    found = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())
                       if torch.cuda.is_available()]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return "this machine: " + ", ".join(found)


def check_device(name: str, option: str = "device") -> None:
    """Raise ValueError unless `name` can be used here ('auto' always can)."""
    import torch

    if not re.match(DEVICE_PATTERN, name):
        raise ValueError(f"{option}: {name!r} is not a device: use auto, cpu, cuda or cuda:N "
                         f"({describe()})")
    if name.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= n:
            have = f"{n} GPU(s)" if n else "no CUDA GPU"
            raise ValueError(f"{option}: {name!r} is not available ({have}; {describe()}); "
                             "use auto or cpu")
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"{option}: 'mps' is not available ({describe()}); use auto or cpu")
