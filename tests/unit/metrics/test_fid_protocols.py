"""Published FID protocols by name (mimicry, compare_gan, studiogan2021, studiogan2023, and
`studiogan`, the 2021 protocol's old name): the real split and both counts they fix, their
`protocol.<metric>` tags, the config checks, the old name's run keys and tags, and the report's
refusal to rank rows of different protocols together (no Inception is run: protocol strings
only)."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import ConfigError, RunConfig
from ganbench.data import Dataset
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception_weights as iw
from ganbench.report.build import analyse
from ganbench.specs.load import load_run_config
from ganbench.specs.plan import PlanError, plan
from ganbench.specs.run import check_run

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
    monkeypatch.setitem(fid.PROTOCOLS._items, "studiogan2021",
                        fid.FidProtocol("studiogan2021", "test", 10, 10, ""))
    data = cifar_like(60, 20)
    m = evaluator(tmp_path, "mimicry", data)
    assert (m.n_gen, len(m.ref)) == (50, 50) and "ref=cifar10/train[50/60]" in m.base
    s = evaluator(tmp_path, "studiogan2021", data)
    assert (s.n_gen, len(s.ref)) == (10, 10) and "ref=cifar10/test[10/20]" in s.base
    c = evaluator(tmp_path, "compare_gan", data)
    assert (c.n_gen, len(c.ref)) == (20, 20) and "ref=cifar10/test[20/20]" in c.base
    assert torch.equal(c.ref, data.test_images)
    # The registered studiogan2023, unpatched: as many generated as train images, all of them.
    t = evaluator(tmp_path, "studiogan2023", data)
    assert (t.n_gen, len(t.ref)) == (60, 60) and "ref=cifar10/train[60/60]" in t.base
    assert torch.equal(t.ref, data.images)
    e = evaluator(tmp_path, None, data)  # today's explicit settings, unchanged
    assert (e.n_gen, len(e.ref)) == (7, 5) and "protocol=" not in e.base
    assert e.base.startswith("extractor=") and "ref=cifar10/train[5/60]" in e.base


def counts(name: str) -> tuple[str, int | None, int | None]:
    p = fid.PROTOCOLS[name]
    return p.split, p.n_gen, p.n_real


def test_published_counts():
    assert counts("mimicry") == ("train", 50_000, 50_000)
    assert counts("compare_gan") == ("test", None, None)  # the whole test split, both sides
    # StudioGAN's README of 2020-09 to 2022-07: 10K generated vs 10K test images.
    assert counts("studiogan2021") == ("test", 10_000, 10_000)
    # Its 2023 benchmark: as many generated as training images, against the whole train split.
    assert counts("studiogan2023") == ("train", None, None)
    # The old name means what it always meant: the 2021 protocol.
    assert counts("studiogan") == counts("studiogan2021")
    assert fid.PROTOCOLS["studiogan"].deprecated and "studiogan2021" in (
        fid.PROTOCOLS["studiogan"].deprecated)
    current = ("mimicry", "compare_gan", "studiogan2021", "studiogan2023")
    assert not any(fid.PROTOCOLS[n].deprecated for n in current)
    assert "PIL bilinear" in fid.PROTOCOLS["studiogan2023"].reported_by  # not ours: say so


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
    protocols, missing = evaluator(tmp_path, "studiogan2021", head=False).protocols()
    assert "isc10k" in missing and "isc10k" not in protocols and "fid10k" in protocols


def test_a_protocol_on_the_test_split_needs_one(tmp_path):
    no_test = Dataset("stl10", "images", "t", images=cifar_like().images)
    with pytest.raises(ValueError, match="test split"):
        evaluator(tmp_path, "studiogan2021", no_test)
    cfg = RunConfig(dataset="stl10", model="dcgan28", fid_protocol="studiogan2021")
    (f,) = [f for f in check_run(cfg) if f.trick == "fid_protocol"]
    assert f.kind == "conflict" and "cifar10" in f.suggestion
    assert not [f for f in check_run(cfg.model_copy(update={"fid_protocol": "mimicry"}))
                if f.trick == "fid_protocol"]


def test_same_counts_different_names_never_share_a_protocol(tmp_path, monkeypatch):
    # On CIFAR both studiogan2021 and compare_gan mean 10k fakes against the 10k test images.
    monkeypatch.setitem(fid.PROTOCOLS._items, "studiogan2021",
                        fid.FidProtocol("studiogan2021", "test", 20, 20, ""))
    s = evaluator(tmp_path, "studiogan2021").protocols()[0]["fid20"]
    c = evaluator(tmp_path, "compare_gan").protocols()[0]["fid20"]
    assert s != c and s.replace("studiogan2021", "compare_gan") == c
    # and studiogan2023 and mimicry the whole 60-image train split here (50k on CIFAR)
    monkeypatch.setitem(fid.PROTOCOLS._items, "mimicry",
                        fid.FidProtocol("mimicry", "train", 60, 60, ""))
    t = evaluator(tmp_path, "studiogan2023").protocols()[0]["fid60"]
    m = evaluator(tmp_path, "mimicry").protocols()[0]["fid60"]
    assert t != m and t.replace("studiogan2023", "mimicry") == m


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
                       r"'fancy' \(known: compare_gan, mimicry, studiogan, studiogan2021, "
                       r"studiogan2023\)"):
        load_run_config(f)


def test_metric_names_carry_the_protocols_count(tmp_path):
    from ganbench.metrics import available_metrics

    def names(**kw):
        cfg = RunConfig(dataset="cifar10", model="dcgan28", image_metrics=["fid", "kid"], **kw)
        return {k for k in available_metrics("images", cfg) if k.startswith(("fid", "kid"))}

    assert names() == {"fid10k", "kid10k"}
    assert names(fid_protocol="mimicry") == {"fid50k", "kid50k"}
    assert names(fid_protocol="studiogan") == {"fid10k", "kid10k"}
    assert names(fid_protocol="studiogan2021") == {"fid10k", "kid10k"}
    assert names(fid_protocol="studiogan2023") == {"fid50k", "kid50k"}  # CIFAR's 50k train
    assert names(fid_protocol="compare_gan") == {"fid10k", "kid10k"}  # CIFAR's 10k test images


def test_a_sweep_ranked_under_mimicry_plans(tmp_path):
    from ganbench.specs.load import load_sweep_spec

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

    assert fid.PROTOCOLS.names() == ["compare_gan", "mimicry", "studiogan", "studiogan2021",
                                     "studiogan2023"]
    assert fid.PROTOCOLS["mimicry"] is fid.PROTOCOLS.get("mimicry")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        fid.FidProtocol("mine", "val", 10, 10, "")
    with pytest.raises(ValueError, match="n_gen must be None or a count"):
        fid.FidProtocol("mine", "test", 0, 10, "")
    with pytest.raises(DuplicateNameError, match="FID protocol 'mimicry'"):
        register_protocol(fid.FidProtocol("mimicry", "train", 10, 10, ""))


# ------------------------------------------------------------------ the old name `studiogan`

OLD_RUN = "dataset: cifar10\nmodel: dcgan28\nimage_metrics: [fid]\nfid_protocol: studiogan\n"


def test_an_old_studiogan_file_still_loads_and_keeps_its_run_key(tmp_path):
    from ganbench.specs.plan import canonical, digest
    from ganbench.specs.run import caveats

    f = tmp_path / "run.yaml"
    f.write_text(OLD_RUN)
    cfg = load_run_config(f)
    assert cfg.fid_protocol == "studiogan"  # not rewritten: the name is part of the key
    # Computed with the code before the split (commit 8cba596): an existing run resumes.
    assert (digest(canonical(cfg)), digest(canonical(cfg, with_seed=False))) == (
        "3b700892bb90", "fffb01f4679c")
    renamed = cfg.model_copy(update={"fid_protocol": "studiogan2021"})
    assert digest(canonical(renamed)) != "3b700892bb90"  # a new name is a new run
    # A caveat, never a conflict: it names both current protocols.
    (c,) = [f for f in check_run(cfg) if f.trick == "fid_protocol"]
    assert c.kind == "caveat" and "deprecated" in c.message
    assert "studiogan2021" in c.message and "studiogan2023" in c.message
    assert c in caveats(cfg)
    for new in ("studiogan2021", "studiogan2023"):
        assert not [f for f in check_run(cfg.model_copy(update={"fid_protocol": new}))
                    if f.trick == "fid_protocol"]


def test_an_old_studiogan_sweep_plans_the_same_runs(tmp_path):
    from ganbench.specs.load import load_sweep_spec

    f = tmp_path / "s.yaml"
    f.write_text("name: sg\nbase: {dataset: cifar10, model: dcgan28, image_metrics: [fid], "
                 "fid_protocol: studiogan}\ntricks: {spectral_norm: [off, on]}\n"
                 "metric: {name: fid10k, goal: min}\n")
    keys = sorted(r.run_key for r in plan(load_sweep_spec(f)[0]).runs)
    assert keys == ["00676d6e967c", "2114c6a5cffe", "3b700892bb90", "7ee19c4de8e4",
                    "c7c8e46353c3", "d0d3ce054969"]  # the code before the split's


def test_the_old_name_records_the_tag_it_always_did(tmp_path):
    # Runs recorded under `protocol=studiogan;` keep grouping with new runs of old files;
    # the part after the name is studiogan2021's, count for count.
    data = cifar_like(60, 20)
    old = evaluator(tmp_path, "studiogan", data).protocols()[0]["fid10k"]
    new = evaluator(tmp_path, "studiogan2021", data).protocols()[0]["fid10k"]
    assert old.startswith("protocol=studiogan;extractor=") and "gen=10000;real=20;" in old
    assert "ref=cifar10/test[20/20]" in old
    assert old == new.replace("protocol=studiogan2021;", "protocol=studiogan;")


def test_a_protocol_sized_by_its_split_needs_the_size_declared():
    from ganbench.data import DATASETS
    from ganbench.data.base import DatasetSpec
    from ganbench.metrics import available_metrics

    cfg = RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fid"],
                    fid_protocol="studiogan2023")
    (f,) = [f for f in check_run(cfg) if f.trick == "fid_protocol"]
    assert f.kind == "conflict" and "does not declare" in f.message
    assert "cifar10" in f.suggestion and f.suggestion.endswith("fid_protocol: mimicry")
    with DATASETS.scoped():
        DATASETS.register(DatasetSpec("tp_sized", "images", lambda root: None,
                                      shape=(3, 32, 32), max_size=32, train_size=123))
        sized = cfg.model_copy(update={"dataset": "tp_sized"})
        assert not [f for f in check_run(sized) if f.trick == "fid_protocol"]
        assert "fid123" in available_metrics("images", sized)
