"""`fd`: the Fréchet distance in a registered feature space (metrics/extractors.py).

The networks here are small and random (DINOv2's weights cannot be fetched on this machine):
what is tested is the wiring — a network registered from outside ganbench scores a run, its
FD equals torch-fidelity's own formula on the same features, the reference is cached, the
protocol names the network, its weights and its resize — and DINOv2's loading from a file
through a local copy of its hub code, which never unpickles the weights.
"""

from __future__ import annotations

import hashlib
import pickle
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.config import ConfigError, RunConfig
from ganbench.data import Dataset
from ganbench.metrics import available_metrics, metric_goal
from ganbench.metrics import extractors as ex
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception_weights as iw
from ganbench.metrics.references import run_tags
from ganbench.metrics.safe_cache import UnsafeFileError
from ganbench.specs.plan import canonical
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train


class Tiny(nn.Module):
    """A fixed random projection of pooled pixels: uint8 (B, 3, H, W) -> (B, 6)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3 * 4 * 4, 6)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(6, 48, generator=torch.Generator().manual_seed(7)))
            self.proj.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        pooled = nn.functional.adaptive_avg_pool2d(x.float() / 255, 4)
        return torch.tanh(self.proj(pooled.flatten(1)))


@pytest.fixture
def tiny():
    """A network registered the way a plugin registers one (this module is not ganbench)."""
    built = []

    def build(weights):
        built.append(weights)
        return Tiny()

    with ex.EXTRACTORS.scoped():
        ex.register_extractor(ex.FeatureExtractor("tiny-rand", 6, "tiny random (test)",
                                                  "pool-4", build))
        yield built


@pytest.fixture
def no_inception(monkeypatch):
    """fd alone must not resolve (or fetch) Inception's weights."""
    def refuse(root):
        raise AssertionError("fd resolved the Inception weights")
    monkeypatch.setattr(fid, "resolve_weights", refuse)


def images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 12, 12), dtype=torch.uint8, generator=g)


def torch_fidelity_fd(gen: torch.Tensor, real: torch.Tensor) -> float:
    """torch-fidelity's own statistics and formula (its eigvals route, not ganbench's)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    net = Tiny()
    with torch.no_grad():
        f_gen, f_real = (net(x.expand(-1, 3, -1, -1)).double() for x in (gen, real))
    stats = [fid_features_to_statistics(f) for f in (f_gen, f_real)]
    return fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]


def test_fd_is_torch_fidelitys_formula_on_the_registered_features(tmp_path, tiny,
                                                                  no_inception):
    real, gen = images(40, 1), images(30, 2)
    data = Dataset("toy", "images", "test", images=real)
    ev = fid.FidelityEvaluator(data, ["fd"], n_gen=30, root=tmp_path, fd_features="tiny-rand")
    first = ev.compare(gen)
    assert first.metrics["fd30"] == pytest.approx(torch_fidelity_fd(gen, real), rel=1e-6)
    assert first.reference_computed and tiny == [None]  # no file: the builder's own source
    proto = first.protocols["fd30"]
    assert proto.startswith("extractor=tiny-rand/fp32;weights=default:tiny-rand;gen=30;real=40;")
    assert "resize=pool-4" in proto
    # Another evaluator (another worker) reads the cached reference statistics.
    second = fid.FidelityEvaluator(data, ["fd"], n_gen=30, root=tmp_path,
                                   fd_features="tiny-rand").compare(gen)
    assert not second.reference_computed
    assert second.metrics["fd30"] == pytest.approx(first.metrics["fd30"], abs=1e-9)
    # The distance moves the right way: real images against themselves are ~0.
    same = fid.FidelityEvaluator(data, ["fd"], n_gen=40, root=tmp_path,
                                 fd_features="tiny-rand").compare(real)
    assert abs(same.metrics["fd40"]) < 1e-6 < first.metrics["fd30"]


def tiny_features(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return Tiny()(x.expand(-1, 3, -1, -1)).double()


def test_density_and_coverage_in_the_registered_space(tmp_path, tiny, no_inception):
    from ganbench.metrics.prdc import density_coverage

    real, gen = images(40, 1), images(30, 2)
    data = Dataset("toy", "images", "test", images=real)
    both = fid.FidelityEvaluator(data, ["fd", "dc"], n_gen=30, root=tmp_path,
                                 fd_features="tiny-rand")
    got = both.compare(gen)
    want = density_coverage(tiny_features(real), tiny_features(gen), k=5)
    assert got.metrics["fd_density30"] == pytest.approx(want.density, abs=1e-12)
    assert got.metrics["fd_coverage30"] == pytest.approx(want.coverage, abs=1e-12)
    # FD by this route (both sets' features) is still torch-fidelity's formula
    assert got.metrics["fd30"] == pytest.approx(torch_fidelity_fd(gen, real), rel=1e-6)
    assert got.protocols["fd_coverage30"] == got.protocols["fd30"] + ";dc=k5"
    assert got.reference_computed
    alone = fid.FidelityEvaluator(data, ["dc"], n_gen=30, root=tmp_path,
                                  fd_features="tiny-rand").compare(gen)
    assert set(alone.metrics) == {"fd_density30", "fd_coverage30"}
    assert not alone.reference_computed  # the real features were cached by the first
    assert alone.metrics["fd_coverage30"] == got.metrics["fd_coverage30"]
    # the real set against itself: every real point is inside its own ball
    same = fid.FidelityEvaluator(data, ["dc"], n_gen=40, root=tmp_path,
                                 fd_features="tiny-rand").compare(real)
    assert same.metrics["fd_coverage40"] == 1.0 and same.metrics["fd_density40"] >= 1.0
    assert metric_goal("fd_density10k") == metric_goal("fd_coverage10k") == "max"


def test_weights_file_is_named_by_its_hash_and_keys_its_own_cache(tmp_path, tiny,
                                                                  no_inception):
    w = tmp_path / "tiny.pt"
    torch.save(Tiny().state_dict(), w)
    data = Dataset("toy", "images", "test", images=images(20, 1))
    plain = fid.FidelityEvaluator(data, ["fd"], n_gen=10, root=tmp_path,
                                  fd_features="tiny-rand")
    filed = fid.FidelityEvaluator(data, ["fd"], n_gen=10, root=tmp_path,
                                  fd_features="tiny-rand", fd_weights=w)
    sha = hashlib.sha256(w.read_bytes()).hexdigest()
    assert f"weights={sha};" in filed.protocols()[0]["fd10"]
    assert filed.fd_ref_name != plain.fd_ref_name  # other weights, other reference cache
    filed.compare(images(10, 3))
    assert tiny == [w]
    # A report does not call a file's features the network's published ones.
    tags = run_tags(filed.protocols()[0]["fd10"])
    assert tags["features"].startswith("tiny-rand (weights ") and tags["resize"] == "pool-4"
    assert run_tags(plain.protocols()[0]["fd10"])["features"] == "tiny random (test)"


def test_a_run_logs_fd_from_a_plugin_network(tmp_path, tiny, no_inception):
    cfg = validate(RunConfig(dataset="tiny-images", model="dcgan28", steps=2, batch_size=8,
                             log_every=1, eval_every=1, device="cpu", data_root=tmp_path,
                             image_metrics=["fd"], fd_features="tiny-rand", fid_samples=10,
                             fid_real_samples=12, fid_batch_size=5))
    assert "fd10" in available_metrics("images", cfg) and metric_goal("fd10") == "min"
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    assert set(result.metrics) == {"fd10"} and np.isfinite(result.metrics["fd10"])
    assert [s for s, _ in tracker.history("eval/fd10")] == [1, 2]
    assert "extractor=tiny-rand/" in tracker.tags["protocol.fd10"]


def test_config_checks_name_the_field_and_keep_old_keys(tmp_path):
    cfg = RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fd"],
                    fd_features="dinov2-vit-l-4", fd_weights=tmp_path / "missing.pt")
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    msg = str(e.value)
    assert "fd_features: unknown feature extractor 'dinov2-vit-l-4'" in msg
    assert "did you mean 'dinov2-vit-l-14'" in msg
    assert "fd_weights: " in msg and "is not a file" in msg
    # A run that does not ask for fd keeps the key it had before fd existed; where its
    # weights file lives is not part of any key (its hash is in the protocol).
    plain = canonical(RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fid"]))
    assert "fd_features" not in plain and "fd_weights" not in plain
    filed = canonical(RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fd"],
                                fd_weights=tmp_path / "w.pt"))
    assert "fd_weights" not in filed


def test_registry_refuses_a_malformed_network():
    with pytest.raises(ValueError, match="dim must be a positive int"):
        ex.FeatureExtractor("bad", 0, "x", "native", lambda w: Tiny())
    with pytest.raises(ValueError, match="say its resize"):
        ex.FeatureExtractor("bad", 6, "x", "", lambda w: Tiny())


def test_wrong_feature_shape_is_named(tmp_path, no_inception):
    with ex.EXTRACTORS.scoped():
        ex.register_extractor(ex.FeatureExtractor("liar", 5, "says 5, gives 6", "pool-4",
                                                  lambda w: Tiny()))
        ev = fid.FidelityEvaluator(Dataset("toy", "images", "test", images=images(12, 1)),
                                   ["fd"], n_gen=8, root=tmp_path, fd_features="liar")
        with pytest.raises(Exception, match=r"'liar' gave features of shape \(\d+, 6\)"):
            ev.compare(images(8, 2))


# ------------------------------------------------------------------ DINOv2 from a file

HUBCONF = """
import torch
from torch import nn

class Fake(nn.Module):  # stands in for DINOv2's ViT: records what it was given
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, {dim})
        self.seen = []
    def forward(self, x):
        self.seen.append((tuple(x.shape), x.dtype, float(x.mean())))
        return self.head(x.mean(dim=(2, 3)))

def {hub}(pretrained=True, **kw):
    assert not pretrained, "ganbench loads the weights itself"
    return Fake()
"""


@pytest.fixture
def dinov2_repo(tmp_path, monkeypatch):
    repo = tmp_path / "dinov2"
    repo.mkdir()
    (repo / "hubconf.py").write_text(textwrap.dedent(HUBCONF.format(dim=768,
                                                                      hub="dinov2_vitb14")))
    monkeypatch.setenv(ex.ENV_DINOV2_REPO, str(repo))
    return repo


def _fake_weights(path):
    g = torch.Generator().manual_seed(3)
    torch.save({"head.weight": torch.randn(768, 3, generator=g), "head.bias": torch.zeros(768)},
               path)
    return path


def test_dinov2_from_a_file_uses_torch_fidelitys_preprocessing(tmp_path, dinov2_repo):
    w = _fake_weights(tmp_path / "vitb14.pth")
    net = ex.Features(ex.EXTRACTORS.get("dinov2-vit-b-14").build(w), 768, "dinov2-vit-b-14")
    x = torch.full((2, 3, 12, 12), 255, dtype=torch.uint8)
    out = net(x)
    assert out.shape == (2, 768) and out.dtype == torch.float32
    (shape, dtype, mean), = net.module.model.seen
    # torch-fidelity's DINOv2 input: 224x224, float32, ImageNet-normalised (white -> ~2.2)
    assert shape == (2, 3, 224, 224) and dtype == torch.float32
    means, sds = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    want = np.mean([(1 - m) / s for m, s in zip(means, sds, strict=True)])
    assert mean == pytest.approx(want, rel=1e-4)
    sd = torch.load(w, weights_only=True)
    assert torch.equal(net.module.model.head.weight, sd["head.weight"])


class Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_dinov2_weights_are_never_unpickled(tmp_path, dinov2_repo):
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        pickle.dump({"head.weight": Evil()}, f)
    with pytest.raises(UnsafeFileError, match="refused to unpickle"):
        ex.EXTRACTORS.get("dinov2-vit-b-14").build(bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"head.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(ValueError, match="is not a dinov2-vit-b-14 weights file"):
        ex.EXTRACTORS.get("dinov2-vit-b-14").build(wrong)


def test_dinov2_from_a_file_without_its_code_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(ex.ENV_DINOV2_REPO, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "no-hub"))
    with pytest.raises(ValueError, match=ex.ENV_DINOV2_REPO):
        ex.EXTRACTORS.get("dinov2-vit-l-14").build(_fake_weights(tmp_path / "w.pth"))


def test_registered_networks_say_what_they_are():
    names = ex.EXTRACTORS.names()
    assert {"dinov2-vit-b-14", "dinov2-vit-l-14", "inception-v3-compat"} <= set(names)
    assert ex.DEFAULT == "dinov2-vit-l-14" == RunConfig().fd_features
    assert ex.EXTRACTORS.get("dinov2-vit-l-14").dim == 1024
    assert ex.EXTRACTORS.get("inception-v3-compat").network == "inception-v3 (TF 2015-12-05)"
    assert iw.ENV_WEIGHTS  # Inception keeps its own weights route
