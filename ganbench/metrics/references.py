"""Published reference numbers as data, and whether a run's protocol can be set beside one.

A `Reference` is one published value (FID 16.77 ± 0.04) with everything needed to judge
whether one of our numbers is comparable to it: the sample counts on both sides, the real
split, the feature network and its resize, the image resolution. A report shows it beside a
table only when the runs' recorded protocol agrees in every one of those tags, and otherwise
says which tags differ, with both values (report/references.py renders it).

A registry like every other family: a plugin adds a number with
`register_reference(Reference(...))`. Only numbers read from their source belong here; the
`source` names the file or table they were read from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from ganbench.metrics.base import parse_counted
from ganbench.metrics.extractors import EXTRACTORS, TF_INCEPTION, TF_RESIZE
from ganbench.metrics.inception import EXTRACTOR
from ganbench.registry import Registry

PM_MEANS = ("evaluation noise", "training seeds", "not stated")
# The tags compared between a run and a reference; None on a reference = not applicable
# (IS has no real images, so neither n_real nor split).
TAGS = ("n_gen", "n_real", "split", "features", "resize", "resolution")


@dataclass(frozen=True)
class Reference:
    """One published number and the protocol it was measured under."""

    name: str  # registry key, e.g. "mimicry/sngan32/cifar10/fid"
    label: str  # how a report names it: "Mimicry SNGAN-32"
    dataset: str  # our dataset name: "cifar10"
    model: str  # the model in words
    metric: str  # our metric's base name: "fid", "kid", "isc"
    value: float
    pm: float | None
    pm_means: str  # one of PM_MEANS
    pm_detail: str  # how the ± was computed, in words ("" if not stated)
    n_gen: int
    n_real: int | None
    split: str | None  # "train" or "test"; None where no real images are used
    features: str
    resize: str
    resolution: int
    training: str  # the training setting in words (steps, loss, lr schedule)
    source: str  # repository file or paper table the number was read from

    def __post_init__(self) -> None:
        if self.pm_means not in PM_MEANS:
            raise ValueError(f"reference {self.name!r}: pm_means must be one of "
                             f"{', '.join(PM_MEANS)}, not {self.pm_means!r}")
        if self.split not in (None, "train", "test"):
            raise ValueError(f"reference {self.name!r}: split must be 'train', 'test' or "
                             f"None, not {self.split!r}")
        if not self.source:
            raise ValueError(f"reference {self.name!r}: name its source (file or table)")

    def tags(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in TAGS}

    def value_text(self) -> str:
        pm = f" ± {self.pm:g}" if self.pm is not None else ""
        return f"{self.metric.upper()} {self.value:g}{pm}"


REFERENCES: Registry[Reference] = Registry("reference", base=Reference)


def register_reference(ref: Reference) -> Reference:
    """Register a published number (its `name` is its key)."""
    return REFERENCES.register(ref)


def references_for(dataset: str, metric: str) -> list[Reference]:
    """Every registered reference on `dataset` for the metric base name `metric` ('fid')."""
    return [REFERENCES.get(n) for n in REFERENCES.names(dataset=dataset, metric=metric)]


# ------------------------------------------------------------------ a run's side

_REF = re.compile(r"^(?P<dataset>[^/]+)/(?P<split>[^\[]+)\[")


def metric_base(name: str) -> str:
    """'fid50k' -> 'fid', 'isc10000' -> 'isc', 'fid' -> 'fid' (the metric registry's own
    parse of counted names)."""
    counted = parse_counted(name)
    return counted[0].name if counted else name


def parse_protocol(text: str) -> dict[str, str]:
    """A recorded protocol string ('extractor=...;gen=50000;real=...;ref=...') as a dict."""
    out = {}
    for part in str(text).split(";"):
        key, eq, value = part.partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def run_tags(protocol: str, weights_source: str | None = None) -> dict[str, object]:
    """The comparable tags of a run, from the protocol string its image metric recorded
    (metrics/fidelity.py): the counts, the real split (from `ref=`), the feature network and
    its resize (from `extractor=`; weights a user supplied are named by their hash), the
    resolution. A tag the string does not hold is absent."""
    p, out = parse_protocol(protocol), {}
    for key, tag in (("gen", "n_gen"), ("real", "n_real"), ("res", "resolution")):
        if p.get(key, "").isdigit():
            out[tag] = int(p[key])
    ref = _REF.match(p.get("ref", ""))
    if ref:
        out["dataset"], out["split"] = ref.group("dataset"), ref.group("split")
    extractor = p.get("extractor", "").split("/")[0]
    weights = p.get("weights", "?")
    if extractor == EXTRACTOR and weights_source != "user":
        # `resize=` is written only where it is not the network's own (fid_resize)
        out["features"], out["resize"] = TF_INCEPTION, p.get("resize", TF_RESIZE)
    elif extractor in EXTRACTORS and weights == f"default:{extractor}":
        # a registered network (`fd`) with the weights its builder gets by itself
        spec = EXTRACTORS.get(extractor)
        out["features"], out["resize"] = spec.network, spec.resize
    elif extractor:
        out["features"] = f"{extractor} (weights {weights[:16]})"
        out["resize"] = p.get("resize") or (TF_RESIZE if extractor == EXTRACTOR else "unknown")
    return out


@dataclass(frozen=True)
class Match:
    """A reference against a run's tags: comparable, or the tags that differ."""

    reference: Reference
    differs: tuple[tuple[str, object, object], ...]  # (tag, ours, the reference's)

    @property
    def comparable(self) -> bool:
        return not self.differs

    def differences(self) -> str:
        return ", ".join(f"{tag} {_show(ours)} vs {_show(theirs)}"
                         for tag, ours, theirs in self.differs)


def _show(v: object) -> str:
    return "not recorded" if v is None else str(v)


def compare(tags: dict[str, object], ref: Reference) -> Match:
    """Every tag the reference fixes (not None) must equal the run's; a tag the run did not
    record differs too (it cannot be shown to agree)."""
    differs = tuple((tag, tags.get(tag), want) for tag, want in ref.tags().items()
                    if want is not None and tags.get(tag) != want)
    return Match(ref, differs)


# ------------------------------------------------------------------ built-in numbers

_MIMICRY_SRC = "kwotsin/mimicry README.md (Baselines, CIFAR-10 results table)"
_MIMICRY_TRAIN = ("SNGAN ResNet-32, 100k iterations, batch 64, Adam lr 2e-4 betas (0.0, 0.9), "
                  "linear LR decay, n_dis 5")
# torch_mimicry/metrics/compute_metrics.py evaluate(): num_runs=3 seeds (start_seed 0) on one
# checkpoint, mean and np.std printed as "score (± std)"; docs/source/guides/tutorial.rst: "By
# default, we will run 3 times for computing FID, and report the mean and standard deviation".
_MIMICRY_PM = "std over 3 evaluation seeds of one checkpoint, Mimicry's default num_runs"


def _mimicry(metric: str, value: float, pm: float, n_real: int | None,
             split: str | None) -> Reference:
    return Reference(f"mimicry/sngan32/cifar10/{metric}", "Mimicry SNGAN-32", "cifar10",
                     "SNGAN (ResNet, 32x32), unconditional", metric, value, pm,
                     "evaluation noise", _MIMICRY_PM, 50_000, n_real, split, TF_INCEPTION,
                     TF_RESIZE, 32, _MIMICRY_TRAIN, _MIMICRY_SRC)


register_reference(_mimicry("fid", 16.77, 0.04, 50_000, "train"))
register_reference(_mimicry("isc", 7.97, 0.06, None, None))  # 50k samples, 10 splits
