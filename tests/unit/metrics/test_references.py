"""Published reference numbers: the registry, matching a run's recorded protocol against a
reference tag by tag, and the report showing a number only where every tag agrees (no
Inception is run: protocol strings only)."""

from __future__ import annotations

import dataclasses

import pytest

from ganbench.metrics import fidelity as fid
from ganbench.metrics import references as refs
from ganbench.registry import DuplicateNameError, origin
from ganbench.report import latex, markdown
from ganbench.report.build import analyse

from ..report.test_report import store_data
from ..report.test_stats import SN, runs_frame
from .test_fid_protocols import cifar_like, weights

SHA = "ab" * 32


def proto(name: str | None, gen: int, real: int, split: str, total: int) -> str:
    """A protocol string in the layout FidelityEvaluator.base records."""
    named = f"protocol={name};" if name else ""
    return (f"{named}extractor=inception-v3-compat/fp32;weights={SHA};gen={gen};real={real};"
            f"ref=cifar10/{split}[{real}/{total}]@0123456789abcdef;res=32;torch-fidelity=0.3.0")


MIMICRY = proto("mimicry", 50_000, 50_000, "train", 50_000)
COMPARE_GAN = proto("compare_gan", 10_000, 10_000, "test", 10_000)
DEFAULT = proto(None, 10_000, 50_000, "train", 50_000)  # fid_samples 10k, all train images


# ------------------------------------------------------------------ the registry


def test_mimicry_sngan_is_registered_as_read_from_its_readme():
    r = refs.REFERENCES["mimicry/sngan32/cifar10/fid"]
    assert (r.value, r.pm, r.pm_means) == (16.77, 0.04, "evaluation noise")
    assert (r.n_gen, r.n_real, r.split, r.resolution) == (50_000, 50_000, "train", 32)
    assert "README.md" in r.source and "100k iterations" in r.training
    assert refs.REFERENCES["mimicry/sngan32/cifar10/isc"].value == 7.97
    assert [x.name for x in refs.references_for("cifar10", "fid")] == [r.name]
    assert refs.references_for("mnist", "fid") == []


def test_duplicates_and_bad_fields_are_refused():
    r = refs.REFERENCES["mimicry/sngan32/cifar10/fid"]
    with pytest.raises(DuplicateNameError, match="reference 'mimicry/sngan32/cifar10/fid'"):
        refs.register_reference(r)
    with pytest.raises(ValueError, match="pm_means must be one of evaluation noise"):
        dataclasses.replace(r, name="x", pm_means="std")
    with pytest.raises(ValueError, match="split must be"):
        dataclasses.replace(r, name="x", split="val")
    with pytest.raises(ValueError, match="name its source"):
        dataclasses.replace(r, name="x", source="")


def test_a_plugin_adds_a_reference_with_no_edit_to_the_package():
    mine = dataclasses.replace(refs.REFERENCES["mimicry/sngan32/cifar10/fid"],
                               name="mine/cifar10/fid", label="Mine", value=9.5,
                               pm_means="training seeds")
    with refs.REFERENCES.scoped(), origin("plugin:mine"):
        refs.register_reference(mine)
        assert "mine/cifar10/fid" in refs.REFERENCES.names(origin="plugin:mine")
        assert {x.label for x in refs.references_for("cifar10", "fid")} == {
            "Mimicry SNGAN-32", "Mine"}
    assert "mine/cifar10/fid" not in refs.REFERENCES


# ------------------------------------------------------------------ matching


def test_a_run_under_mimicry_matches_mimicrys_entry():
    tags = refs.run_tags(MIMICRY)
    assert tags == {"n_gen": 50_000, "n_real": 50_000, "resolution": 32, "dataset": "cifar10",
                    "split": "train", "features": refs.TF_INCEPTION, "resize": refs.TF_RESIZE}
    m = refs.compare(tags, refs.REFERENCES["mimicry/sngan32/cifar10/fid"])
    assert m.comparable and m.differs == ()


def test_other_protocols_are_not_comparable_and_say_where():
    ref = refs.REFERENCES["mimicry/sngan32/cifar10/fid"]
    m = refs.compare(refs.run_tags(COMPARE_GAN), ref)
    assert not m.comparable
    assert m.differs == (("n_gen", 10_000, 50_000), ("n_real", 10_000, 50_000),
                         ("split", "test", "train"))
    assert m.differences() == "n_gen 10000 vs 50000, n_real 10000 vs 50000, split test vs train"
    d = refs.compare(refs.run_tags(DEFAULT), ref)
    assert d.differs == (("n_gen", 10_000, 50_000),)


def test_user_weights_and_missing_tags_are_never_taken_as_agreeing():
    ref = refs.REFERENCES["mimicry/sngan32/cifar10/fid"]
    m = refs.compare(refs.run_tags(MIMICRY, weights_source="user"), ref)
    assert [t for t, *_ in m.differs] == ["features"]
    assert "weights abababababababab" in m.differences()
    bare = refs.compare(refs.run_tags("protocol=mimicry;gen=50000;real=50000"), ref)
    assert {t for t, *_ in bare.differs} == {"split", "features", "resize", "resolution"}
    assert "split not recorded vs train" in bare.differences()


def test_is_references_ignore_the_real_side():
    ref = refs.REFERENCES["mimicry/sngan32/cifar10/isc"]
    isc = "protocol=mimicry;extractor=inception-v3-compat/logits_unbiased/fp32;weights=x;" \
          "gen=50000;res=32;splits=10;torch-fidelity=0.3.0"
    assert refs.compare(refs.run_tags(isc), ref).comparable
    assert refs.metric_base("isc50k") == "isc" and refs.metric_base("fid10000") == "fid"


def test_the_string_the_evaluator_records_parses_to_its_settings(tmp_path, monkeypatch):
    monkeypatch.setitem(fid.PROTOCOLS._items, "mimicry",
                        fid.FidProtocol("mimicry", "train", 50, 50, ""))
    ev = fid.FidelityEvaluator(cifar_like(60, 20), ["fid"], root=tmp_path,
                               weights=weights(tmp_path), protocol="mimicry")
    (text,) = ev.protocols()[0].values()
    assert refs.run_tags(text) == {"n_gen": 50, "n_real": 50, "resolution": 32,
                                   "dataset": "cifar10", "split": "train",
                                   "features": refs.TF_INCEPTION, "resize": refs.TF_RESIZE}


# ------------------------------------------------------------------ the report


def report(tmp_path, protocols, metric="fid50k", dataset="cifar10"):
    def extra(label, seed):
        return {f"tags.protocol.{metric}": protocols(seed), "params.dataset": dataset}

    frame = runs_frame({"baseline": {}, "sn": SN}, lambda c, s: 20.0 + s + (c == "sn"),
                       extra=extra, metric=metric)
    rep = analyse(store_data(frame, tmp_path, metric=metric), "cmd", "uri")
    return rep, markdown.document(rep), latex.document(rep)


def test_the_report_of_a_mimicry_run_shows_mimicrys_number(tmp_path):
    rep, md, tex = report(tmp_path, lambda s: MIMICRY)
    line = ("Published: Mimicry SNGAN-32 (cifar10), FID 16.77 ± 0.04 (± = evaluation noise, "
            "std over 3 evaluation seeds of one checkpoint")
    assert rep.groups[0].published[0].startswith(line)
    assert line in md and "100k iterations" in md and "kwotsin/mimicry README.md" in md
    assert "Not comparable" not in md
    assert "FID 16.77 $\\pm$ 0.04" in tex


def test_another_protocol_shows_not_comparable_with_the_tags(tmp_path):
    _, md, tex = report(tmp_path, lambda s: COMPARE_GAN if s % 2 else MIMICRY)
    assert md.count("Published: Mimicry SNGAN-32") == 1  # the mimicry group only
    assert ("Not comparable: Mimicry SNGAN-32 (cifar10) FID 16.77 (differs in: n_gen 10000 vs "
            "50000, n_real 10000 vs 50000, split test vs train).") in md
    assert md.index("## Protocol `protocol=compare_gan") < md.index("Not comparable")
    assert "Not comparable: Mimicry SNGAN-32" in tex


def test_a_2d_sweep_report_is_unchanged(tmp_path):
    runs = runs_frame({"baseline": {}, "sn": SN}, lambda c, s: 5.0 + s, metric="modes",
                      extra=lambda c, s: {"params.dataset": "ring8"})
    rep = analyse(store_data(runs, tmp_path, metric="modes"), "cmd", "uri")
    assert rep.groups[0].published == []
    text = markdown.document(rep) + latex.document(rep)
    assert "Published" not in text and "Not comparable" not in text


def test_a_metric_without_references_renders_as_with_none_registered(tmp_path, monkeypatch):
    """KID on cifar10 under mimicry: no KID reference, so byte for byte the report that an
    empty registry gives."""
    rep, md, tex = report(tmp_path, lambda s: MIMICRY, metric="kid50k")
    assert rep.groups[0].published == []
    monkeypatch.setattr(refs.REFERENCES, "_items", {})
    _, md0, tex0 = report(tmp_path, lambda s: MIMICRY, metric="fid50k")
    _, md1, tex1 = report(tmp_path, lambda s: MIMICRY, metric="kid50k")
    assert (md, tex) == (md1, tex1) and "Published" not in md0 + tex0
