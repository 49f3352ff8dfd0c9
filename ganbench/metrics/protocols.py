"""Published FID protocols by name (`fid_protocol`): which real split, how many images.

Known without loading anything, so configs, sweeps and the run log name a run's metrics
(`fid50k` under mimicry) before training; metrics/fidelity.py applies them. A registry like
every other family: a plugin adds a protocol with `register_protocol(FidProtocol(...))`,
and `fid_protocol:` accepts it with no edit to ganbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganbench.data.base import dataset_info
from ganbench.registry import Registry


@dataclass(frozen=True)
class FidProtocol:
    """A published FID/KID/IS protocol: which real split, how many images on each side."""

    name: str
    split: str  # "train" or "test"
    n_gen: int | None  # generated images; None = as many as the reference split has
    n_real: int | None  # real images (a fixed subset when fewer than the split); None = all
    reported_by: str

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"FID protocol {self.name!r}: split must be 'train' or 'test', "
                             f"not {self.split!r}")
        for field in ("n_gen", "n_real"):
            n = getattr(self, field)
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
                raise ValueError(f"FID protocol {self.name!r}: {field} must be None or a "
                                 f"count of at least 2, not {n!r}")


PROTOCOLS: Registry[FidProtocol] = Registry("FID protocol", base=FidProtocol)


def register_protocol(spec: FidProtocol) -> FidProtocol:
    """Register a published protocol (the spec's `name` is its name in `fid_protocol:`)."""
    return PROTOCOLS.register(spec)


register_protocol(FidProtocol("mimicry", "train", 50_000, 50_000, "Lee & Town 2020 (Mimicry)"))
register_protocol(FidProtocol("studiogan", "test", 10_000, 10_000,
                              "Kang et al. 2023 (PyTorch-StudioGAN)"))
register_protocol(FidProtocol("compare_gan", "test", None, None,
                              "Lucic et al. 2018; Kurach et al. 2019 (compare_gan)"))


def generated_count(cfg: Any) -> int:
    """The generated images a run's image metrics use (and their names carry): the named
    protocol's, else `fid_samples`. compare_gan's is the dataset's declared test size."""
    name = getattr(cfg, "fid_protocol", None)
    if name is None:
        return cfg.fid_samples
    p = PROTOCOLS[name]
    if p.n_gen is not None:
        return p.n_gen
    size = dataset_info(cfg.dataset, getattr(cfg, "dataset_options", None)).test_size
    return size if size is not None else cfg.fid_samples
