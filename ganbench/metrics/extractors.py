"""Feature spaces for the Fréchet distance (`image_metrics: [fd]`, `fd_features:`).

FID is the Fréchet distance in the TF Inception's pool features (metrics/fidelity.py, with
its own weights handling). `fd` is the same distance in a feature space chosen by name from
this registry: DINOv2 (Oquab et al. 2023), which Stein et al. 2023 ("Exposing flaws of
generative model evaluation metrics") found to rank models as people do, ViT-L/14 for final
numbers; or a plugin's network. torch-fidelity computes it (its statistics, its cache, the
same generated noise as FID), ganbench's registered network in its extractor slot.

A `FeatureExtractor` says what its features are (`network`, a reference tag), how images reach
the network (`resize`, a protocol tag) and how to build it: `build(weights)` returns a module
that maps uint8 RGB images (B, 3, H, W) at the data's own size to (B, dim) features; `weights`
is the user's file (`fd_weights:`) or None for the builder's own source. A plugin adds one with
`register_extractor(FeatureExtractor(...))` and `fd_features:` accepts it with no edit here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.registry import Registry

DEFAULT = "dinov2-vit-l-14"  # Stein et al. 2023's network for final numbers
# What torch-fidelity's `inception-v3-compat` is: the TF Inception graph of 2015-12-05 (the
# FID paper's network) with TF 1.x's bilinear resize to 299, ported to PyTorch.
TF_INCEPTION = "inception-v3 (TF 2015-12-05)"
TF_RESIZE = "tf-bilinear"
ENV_DINOV2_REPO = "GANBENCH_DINOV2_REPO"  # a local clone of facebookresearch/dinov2


@dataclass(frozen=True)
class FeatureExtractor:
    name: str  # what `fd_features:` says
    dim: int  # features per image
    network: str  # what the features are, as a reference tag compares them
    resize: str  # how images reach the network (a protocol tag: tf-bilinear-224, native, ...)
    # weights file or None -> a module: uint8 (B, 3, H, W) -> float (B, dim)
    build: Callable[[Path | None], nn.Module]
    weights: str = ""  # where its weights come from when no file is given, in words

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"feature extractor {self.name!r}: dim must be a positive int")
        if not callable(self.build):
            raise ValueError(f"feature extractor {self.name!r}: build must be a function "
                             "(weights path or None) -> module")
        for field in ("network", "resize"):
            if not getattr(self, field):
                raise ValueError(f"feature extractor {self.name!r}: say its {field}")


EXTRACTORS: Registry[FeatureExtractor] = Registry("feature extractor", base=FeatureExtractor)


def register_extractor(spec: FeatureExtractor) -> FeatureExtractor:
    """Register a feature space for `fd` (the spec's `name` is its `fd_features:` value)."""
    return EXTRACTORS.register(spec)


def weights_id(spec: FeatureExtractor, weights: Path | None) -> str:
    """What the protocol records of the weights: the file's sha256, or the builder's own
    source (`default:<name>`) when none was given."""
    from ganbench.metrics.inception_weights import file_sha256  # once a process per file

    return f"default:{spec.name}" if weights is None else file_sha256(weights)


class Features(nn.Module):
    """A built network in torch-fidelity's slot: uint8 in, one feature layer out."""

    def __init__(self, module: nn.Module, dim: int, name: str) -> None:
        super().__init__()
        self.module, self.dim, self.name = module, dim, name

    def forward(self, x: Tensor) -> Tensor:
        out = self.module(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if out.dim() != 2 or out.shape[1] != self.dim:
            raise ValueError(f"feature extractor {self.name!r} gave features of shape "
                             f"{tuple(out.shape)}, not (batch, {self.dim})")
        return out.float()


# ------------------------------------------------------------------ Inception


def _inception(weights: Path | None) -> nn.Module:
    from ganbench.metrics.inception import EXTRACTOR, load_extractor

    if weights is None:  # metrics/fidelity.py hands it the run's Inception weights
        raise ValueError(f"{EXTRACTOR} is built from ganbench's Inception weights file")
    return load_extractor(weights, ("2048",))


# FID's own network as a feature space: `fd` with it is FID (a check of the fd path).
register_extractor(FeatureExtractor(
    "inception-v3-compat", 2048, TF_INCEPTION, TF_RESIZE, _inception,
    weights="ganbench's Inception weights (`ganbench weights`), or fd_weights: a file"))


# ------------------------------------------------------------------ DINOv2

_DINOV2 = {  # our name -> (torch.hub entry, dim, in words)
    "dinov2-vit-b-14": ("dinov2_vitb14", 768, "ViT-B/14"),
    "dinov2-vit-l-14": ("dinov2_vitl14", 1024, "ViT-L/14"),
}


def dinov2_repo() -> Path | None:
    """DINOv2's code on this machine: $GANBENCH_DINOV2_REPO, else torch.hub's cached copy
    (left by a first online use); None if neither is there."""
    env = os.environ.get(ENV_DINOV2_REPO)
    if env:
        return Path(env)
    cached = Path(torch.hub.get_dir()) / "facebookresearch_dinov2_main"
    return cached if (cached / "hubconf.py").is_file() else None


def _dinov2_builder(name: str) -> Callable[[Path | None], nn.Module]:
    hub, _, _ = _DINOV2[name]

    def build(weights: Path | None) -> nn.Module:
        # torch-fidelity's own DINOv2 extractor does the preprocessing (TF-1 bilinear resize to
        # 224, ImageNet normalisation): the features are torch-fidelity's, whatever the source.
        from torch_fidelity.feature_extractor_base import FeatureExtractorBase
        from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2

        if weights is None:  # torch.hub downloads code and weights, as torch-fidelity does
            return FeatureExtractorDinoV2(name, ["dinov2"])
        repo = dinov2_repo()
        if repo is None or not (repo / "hubconf.py").is_file():
            raise ValueError(
                f"fd_weights: building {name} from a file needs DINOv2's code: set "
                f"${ENV_DINOV2_REPO} to a clone of github.com/facebookresearch/dinov2, or use "
                f"{name} once online without fd_weights (torch.hub then keeps its code)")
        from ganbench.metrics.safe_cache import load_tensors

        model = torch.hub.load(str(repo), hub, source="local", pretrained=False)
        sd = load_tensors(Path(weights), f"{name} weights")  # never unpickled
        if not isinstance(sd, dict):
            raise ValueError(f"{weights} is not a {name} weights file: not a state dict")
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise ValueError(f"{weights} is not a {name} weights file: {first}") from None
        fe = FeatureExtractorDinoV2.__new__(FeatureExtractorDinoV2)
        FeatureExtractorBase.__init__(fe, name, ["dinov2"])
        fe.model, fe.feature_extractor_internal_dtype = model, torch.float32
        fe.requires_grad_(False)
        return fe.eval()

    return build


for _name, (_hub, _dim, _words) in _DINOV2.items():
    register_extractor(FeatureExtractor(
        _name, _dim, f"dinov2 {_words} (Oquab et al. 2023)", "tf-bilinear-224",
        _dinov2_builder(_name),
        weights=f"torch.hub facebookresearch/dinov2 {_hub} (online), or fd_weights: a file"))
