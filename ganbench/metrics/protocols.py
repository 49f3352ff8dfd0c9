"""Published FID protocols by name (`fid_protocol`): which real split, how many images.

Known without loading anything, so configs, sweeps and the run log name a run's metrics
(`fid50k` under mimicry) before training; metrics/fidelity.py applies them. A registry like
every other family: a plugin adds a protocol with `register_protocol(FidProtocol(...))`,
and `fid_protocol:` accepts it with no edit to ganbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganbench.data.base import DataInfo, dataset_info
from ganbench.registry import Registry


@dataclass(frozen=True)
class FidProtocol:
    """A published FID/KID/IS protocol: which real split, how many images on each side."""

    name: str
    split: str  # "train" or "test"
    n_gen: int | None  # generated images; None = as many as the reference split has
    n_real: int | None  # real images (a fixed subset when fewer than the split); None = all
    reported_by: str
    # An old name kept so files that use it keep their run keys and `protocol=` tags: what it
    # means and the name to write instead (specs/run.py turns it into a caveat); "" = current.
    deprecated: str = ""

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
register_protocol(FidProtocol("compare_gan", "test", None, None,
                              "Lucic et al. 2018; Kurach et al. 2019 (compare_gan)"))

# StudioGAN has had two protocols; each name says which (read from POSTECH-CVLab/
# PyTorch-StudioGAN's git history). studiogan2021: README.md, "Benchmark" > "CIFAR10", from
# 174845e (2020-09-19) to ab28d3f (2022-07-04): "IS, FID, and F_beta values are computed
# using 10K test and 10K generated Images" (its command, from 2021-11 on: `-ref "test"`).
_STUDIOGAN_2021 = "PyTorch-StudioGAN README, CIFAR10 benchmark of 2020-09 to 2022-07"
register_protocol(FidProtocol("studiogan2021", "test", 10_000, 10_000, _STUDIOGAN_2021))
# studiogan2023: README.md since 9a7b91d (2022-07-04; read at 947b35e, 2023-08-06), whose benchmark
# it cites as Kang, Shin & Park, TPAMI 2023 (the paper's own text was not read for this).
# "Benchmark" > "1. GANs from StudioGAN": "We use the same number of generated images as the
# training images for Frechet Inception Distance" (ImageNet sets excepted: 50k); "Training GANs" >
# "CIFAR10": `-ref "train" --post_resizer "friendly" --eval_backbone "InceptionV3_tf"`.
# src/loader.py sets the generated count to len(eval_dataloader.dataset), and src/metrics/fid.py
# takes the real moments over that whole split: CIFAR-10's 50k vs its 50k train images.
# src/utils/resize.py (build_resizer): "friendly" for InceptionV3_tf is PIL bilinear on float
# images: `fid_resize: friendly` (metrics/resize.py); the protocol fixes split and counts, and the
# resize is its own tag (default torch-fidelity's TF bilinear).
register_protocol(FidProtocol(
    "studiogan2023", "train", None, None,
    "Kang, Shin & Park 2023 (StudioGAN benchmark; they resize with PIL bilinear: add "
    "fid_resize: friendly)"))
# The name before the split meant the 2021 protocol; old files keep it, and with it their run
# keys (the name is in the config) and the `protocol=studiogan;` tags their runs recorded.
register_protocol(FidProtocol(
    "studiogan", "test", 10_000, 10_000, _STUDIOGAN_2021,
    deprecated="the old name of studiogan2021, kept so existing files keep their run keys; "
    "new files: fid_protocol: studiogan2021 (the same protocol, 10k generated vs the 10k test "
    "images) or studiogan2023 (StudioGAN's current benchmark, on the train split)"))


def split_size(split: str, info: DataInfo) -> int | None:
    """The images a dataset declares for `split`; None where it declares none."""
    return info.test_size if split == "test" else info.train_size


def generated_count(cfg: Any) -> int:
    """The generated images a run's image metrics use (and their names carry): the named
    protocol's, else `fid_samples`. A protocol with n_gen None generates as many as its split
    has, as the dataset declares it (compare_gan: the test size; studiogan2023: the train
    size); specs/run.py refuses a dataset that declares none, so `fid_samples` is never used
    for one."""
    name = getattr(cfg, "fid_protocol", None)
    if name is None:
        return cfg.fid_samples
    p = PROTOCOLS[name]
    if p.n_gen is not None:
        return p.n_gen
    size = split_size(p.split, dataset_info(cfg.dataset, getattr(cfg, "dataset_options", None)))
    return size if size is not None else cfg.fid_samples
