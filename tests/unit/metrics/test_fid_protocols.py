"""Published FID protocols by name (mimicry, studiogan, compare_gan): the real split and both
counts they fix, their `protocol.<metric>` tags, the config checks, and the report's refusal to
rank rows of different protocols together (no Inception is run: protocol strings only)."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import ConfigError, RunConfig
from ganbench.data import Dataset
from ganbench.loaders import load_run_config
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception_weights as iw
from ganbench.report.build import analyse
from ganbench.sweep.design import PlanError, plan
from ganbench.validate import check_run

from ..report.test_report import store_data
from ..report.test_stats import GP, SN, runs_frame


def cifar_like(n_train: int = 60, n_test: int = 20) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n_train, 3, 32, 32), dtype=torch.uint8, generator=g)
    t = torch.randint(0, 256, (n_test, 3, 32, 32), dtype=torch.uint8, generator=g)
    return Dataset("cifar10", "images", "test", images=x, test_images=t, classes=10)


def weights(tmp_path, head: bool = False) -> iw.Weights:
    p = tmp_path / "w.pth"
    p.write_bytes(b"not read")
    return iw.Weights(p, ("ab" if head else "cd") * 32, "test", head)


def evaluator(tmp_path, protocol, data=None, metrics=("fid", "kid", "isc"), head=False):
    return fid.FidelityEvaluator(data or cifar_like(), list(metrics), n_gen=7, n_real=5,
                                 root=tmp_path, weights=weights(tmp_path, head),
                                 protocol=protocol)


def test_each_protocol_fixes_split_and_counts(tmp_path, monkeypatch):
    # Small stand-ins for 50k/10k, so the caps and "the whole split" are both exercised.
    monkeypatch.setitem(fid.PROTOCOLS._items, "mimicry",
                        fid.FidProtocol("mimicry", "train", 50, 50, ""))
    monkeypatch.setitem(fid.PROTOCOLS._items, "studiogan",
                        fid.FidProtocol("studiogan", "test", 10, 10, ""))
    data = cifar_like(60, 20)
    m = evaluator(tmp_path, "mimicry", data)
    assert (m.n_gen, len(m.ref)) == (50, 50) and "ref=cifar10/train[50/60]" in m.base
    s = evaluator(tmp_path, "studiogan", data)
    assert (s.n_gen, len(s.ref)) == (10, 10) and "ref=cifar10/test[10/20]" in s.base
    c = evaluator(tmp_path, "compare_gan", data)
    assert (c.n_gen, len(c.ref)) == (20, 20) and "ref=cifar10/test[20/20]" in c.base
    assert torch.equal(c.ref, data.test_images)
    e = evaluator(tmp_path, None, data)  # today's explicit settings, unchanged
    assert (e.n_gen, len(e.ref)) == (7, 5) and "protocol=" not in e.base
    assert e.base.startswith("extractor=") and "ref=cifar10/train[5/60]" in e.base


def test_published_counts():
    assert fid.PROTOCOLS["mimicry"].n_gen == 50_000 and fid.PROTOCOLS["mimicry"].split == "train"
    assert fid.PROTOCOLS["studiogan"].n_gen == 10_000 and fid.PROTOCOLS["studiogan"].split == "test"
    assert fid.PROTOCOLS["compare_gan"].n_gen is None  # the test split's size


def test_the_name_and_every_part_are_in_every_metrics_tag(tmp_path):
    ev = evaluator(tmp_path, "compare_gan", head=True)
    protocols, missing = ev.protocols()
    assert set(protocols) == {"fid20", "kid20", "isc20"} and not missing
    for p in protocols.values():
        assert p.startswith("protocol=compare_gan;") and "gen=20" in p
    assert "ref=cifar10/test[20/20]" in protocols["fid20"] and "splits=10" in protocols["isc20"]
    tags = fid.FidelityResult({}, protocols).tags()
    assert tags["protocol.fid20"] == protocols["fid20"]


def test_is_without_the_classifier_head_is_tagged_unavailable(tmp_path):
    protocols, missing = evaluator(tmp_path, "studiogan", head=False).protocols()
    assert "isc10k" in missing and "isc10k" not in protocols and "fid10k" in protocols


def test_a_protocol_on_the_test_split_needs_one(tmp_path):
    no_test = Dataset("stl10", "images", "t", images=cifar_like().images)
    with pytest.raises(ValueError, match="test split"):
        evaluator(tmp_path, "studiogan", no_test)
    cfg = RunConfig(dataset="stl10", model="dcgan28", fid_protocol="studiogan")
    (f,) = [f for f in check_run(cfg) if f.trick == "fid_protocol"]
    assert f.kind == "conflict" and "cifar10" in f.suggestion
    assert not [f for f in check_run(cfg.model_copy(update={"fid_protocol": "mimicry"}))
                if f.trick == "fid_protocol"]


def test_same_counts_different_names_never_share_a_protocol(tmp_path, monkeypatch):
    # On CIFAR both studiogan and compare_gan mean 10k fakes against the 10k test images.
    monkeypatch.setitem(fid.PROTOCOLS._items, "studiogan",
                        fid.FidProtocol("studiogan", "test", 20, 20, ""))
    s = evaluator(tmp_path, "studiogan").protocols()[0]["fid20"]
    c = evaluator(tmp_path, "compare_gan").protocols()[0]["fid20"]
    assert s != c and s.replace("studiogan", "compare_gan") == c


def test_the_report_splits_rows_of_different_protocols(tmp_path):
    def extra(label, seed):
        name = "studiogan" if seed % 2 else "compare_gan"
        return {"tags.protocol.fid": f"protocol={name};gen=10000;real=10000"}

    frame = runs_frame({"baseline": {}, "sn": SN, "gp": GP, "gp+sn": {**SN, **GP}},
                       lambda c, s: 10.0 + s, extra=extra)
    rep = analyse(store_data(frame, tmp_path), "cmd", "uri")
    assert [g.protocol.split(";")[0] for g in rep.groups] == ["protocol=compare_gan",
                                                             "protocol=studiogan"]
    for g, n in zip(rep.groups, (12, 8), strict=True):  # seeds 0, 2, 4 vs 1, 3; 4 cells
        assert set(g.tidy["protocol"]) == {g.protocol} and len(g.tidy) == n


def test_yaml_protocol_with_explicit_counts_is_refused(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("dataset: cifar10\nmodel: dcgan28\nfid_protocol: studiogan\nfid_samples: 500\n")
    with pytest.raises(ConfigError, match=r"run.yaml:4: fid_samples: fid_protocol 'studiogan'"):
        load_run_config(f)
    f.write_text("dataset: cifar10\nmodel: dcgan28\nfid_protocol: mimicry\n")
    assert load_run_config(f).fid_protocol == "mimicry"
    f.write_text("dataset: cifar10\nmodel: dcgan28\nfid_protocol: fancy\n")
    with pytest.raises(ConfigError, match=r"run.yaml:3: fid_protocol: unknown FID protocol "
                       r"'fancy' \(known: compare_gan, mimicry, studiogan\)"):
        load_run_config(f)


def test_metric_names_carry_the_protocols_count(tmp_path):
    from ganbench.metrics import available_metrics

    def names(**kw):
        cfg = RunConfig(dataset="cifar10", model="dcgan28", image_metrics=["fid", "kid"], **kw)
        return {k for k in available_metrics("images", cfg) if k.startswith(("fid", "kid"))}

    assert names() == {"fid10k", "kid10k"}
    assert names(fid_protocol="mimicry") == {"fid50k", "kid50k"}
    assert names(fid_protocol="studiogan") == {"fid10k", "kid10k"}
    assert names(fid_protocol="compare_gan") == {"fid10k", "kid10k"}  # CIFAR's 10k test images


def test_a_sweep_ranked_under_mimicry_plans(tmp_path):
    from ganbench.loaders import load_sweep_spec

    f = tmp_path / "s.yaml"
    f.write_text("name: m\nbase: {dataset: cifar10, model: dcgan28, image_metrics: [fid], "
                 "fid_protocol: mimicry}\ntricks: {spectral_norm: [off, on]}\n"
                 "metric: {name: fid50k, goal: min}\n")
    spec, _ = load_sweep_spec(f)
    runs = plan(spec).runs
    assert len(runs) == 6 and all(r.config.fid_protocol == "mimicry" for r in runs)
    f.write_text(f.read_text().replace("fid50k", "fid10k"))
    with pytest.raises(PlanError, match="fid50k"):  # what it does provide
        plan(load_sweep_spec(f)[0])


def test_protocols_are_a_registry_of_checked_specs():
    from ganbench.metrics.protocols import register_protocol
    from ganbench.registry import DuplicateNameError

    assert fid.PROTOCOLS.names() == ["compare_gan", "mimicry", "studiogan"]
    assert fid.PROTOCOLS["mimicry"] is fid.PROTOCOLS.get("mimicry")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        fid.FidProtocol("mine", "val", 10, 10, "")
    with pytest.raises(ValueError, match="n_gen must be None or a count"):
        fid.FidProtocol("mine", "test", 0, 10, "")
    with pytest.raises(DuplicateNameError, match="FID protocol 'mimicry'"):
        register_protocol(fid.FidProtocol("mimicry", "train", 10, 10, ""))
