"""The metric registry: what a metric name means, without computing anything.

A `MetricSpec` says which direction is better (`goal`), what data kind it scores, and, for
metrics that are asked for by an `image_metrics:` entry, that entry and the config field
whose sample count its logged name carries (`fid_samples: 10000` logs `fid` as `fid10k`).
A metric may carry its own code (`compute`), which training calls at each evaluation
(train/seed.py): a new metric is then one registration and no edit elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ganbench.registry import BUILT_IN, USER, Registry, current_origin, origin

Goal = Literal["min", "max"]
COUNT_FIELDS = ("fid_samples", "eval_samples")


@dataclass(frozen=True)
class MetricSpec:
    name: str  # the base name ("fid"); counted metrics are logged as name + count ("fid10k")
    goal: Goal  # "min": lower is better; "max": higher is better
    data_kind: Literal["points", "images"]
    # The `image_metrics:` entry that produces it ("prc" gives precision and recall); None:
    # logged for every run of its data kind.
    entry: str | None = None
    # The config field whose value the logged name carries; None: the name is logged as is.
    counted_by: Literal["fid_samples", "eval_samples"] | None = None
    # Needs ganbench's own classifier for the dataset (DatasetSpec.classifier).
    needs_classifier: bool = False
    # The range a value can take (None: open on that side) and whether values are whole
    # numbers: the report keeps intervals inside the range (report/inference.py).
    low: float | None = None
    high: float | None = None
    integer: bool = False
    # high = the dataset's classes (mixture modes) + this, where `high` is None: a count of
    # covered modes is at most the modes there are (modes: 0; mode_score = modes + hq: 1).
    high_over_classes: float | None = None
    # Logged only by runs on these datasets (the Dirac-GAN's distance to its equilibrium);
    # a run on such a dataset logs these alone. None: every run of its data kind.
    datasets: tuple[str, ...] | None = None
    # The metric's own code, which makes a metric one registration (a plugin's too):
    # compute(samples, data) -> float, called at every evaluation of every run of its data
    # kind on the samples the kind's metrics use (`eval_samples` of G's outputs on the fixed
    # evaluation noise; images in [-1, 1]) and the run's Dataset (`data.sample(n)`, 2-D
    # `data.modes`), under torch.no_grad. Keep it cheap: it runs at each evaluation. None:
    # the built-in evaluators compute it, or the run logs `eval/<name>` itself.
    compute: Callable[[Any, Any], float] | None = None
    # A metric with compute that runs only where a run lists it under `extra_metrics:` (one
    # that costs more than the kind's own, or that the default reports should not grow by).
    on_request: bool = False

    def __post_init__(self) -> None:
        if self.goal not in ("min", "max"):
            raise ValueError(f"metric {self.name!r}: goal must be 'min' or 'max', "
                             f"not {self.goal!r}")
        if self.data_kind not in ("points", "images"):
            raise ValueError(f"metric {self.name!r}: data_kind must be 'points' or 'images'")
        if self.counted_by is not None and self.counted_by not in COUNT_FIELDS:
            raise ValueError(f"metric {self.name!r}: counted_by must be one of {COUNT_FIELDS}")
        if self.compute is not None and (self.entry is not None or not callable(self.compute)):
            raise ValueError(f"metric {self.name!r}: compute must be a function (samples, "
                             "data) -> float, and a metric with an image_metrics entry is "
                             "computed by its evaluator, not by compute")
        if self.on_request and self.compute is None:
            raise ValueError(f"metric {self.name!r}: only a metric with compute can be "
                             "computed on request")
        if self.counted_by is not None and self.entry is None:
            raise ValueError(f"metric {self.name!r}: a counted metric needs its entry")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"metric {self.name!r}: low must be below high")
        if self.name and re.search(r"\d$", self.name):
            # fid10k must parse as fid + 10k: a base name may not end in a digit.
            raise ValueError(f"metric {self.name!r}: a metric name may not end in a digit")


METRICS: Registry[MetricSpec] = Registry("metric", base=MetricSpec)


def register_metric(spec: MetricSpec | str, goal: str | None = None,
                    data_kind: str = "points", **fields) -> MetricSpec:
    """Register a metric's meaning (its goal, data kind and how its name is counted):
    `register_metric(MetricSpec(...))` or `register_metric("name", "max", "points")`. A run
    must log it (`eval/<name>`), e.g. from a trick's hook; a sweep may then rank by it."""
    if not isinstance(spec, MetricSpec):
        spec = MetricSpec(spec, goal, data_kind, **fields)
    # A spec has no code to tell where it came from, so ganbench registers its own inside
    # origin(BUILT_IN) (below, mog.py, dirac.py); outside every origin() block it is a user's.
    label = current_origin() or USER
    if spec.entry is not None and label != BUILT_IN:
        # The evaluators compute the built-in entries only (metrics/fidelity.py, labels.py):
        # an entry nothing computes would pass the config check and fail mid-run.
        raise ValueError(f"metric {spec.name!r}: `entry` names an image_metrics entry that "
                         "ganbench computes; a plugin's metric leaves it unset, and its run "
                         f"logs eval/{spec.name} itself (from a trick's hook)")
    with origin(label):
        return METRICS.register(spec)


# Datasets scored by a scorer of their own instead of their kind's metrics: dataset name ->
# a factory of one run's scorer, `factory()(g, d, z) -> (metrics, tags)`; one per run, so it
# may keep the run's history (the Dirac-GAN's distance trajectory, metrics/dirac.py).
Scorer = Callable[[Any, Any, Any], tuple[dict[str, float], dict[str, str]]]
_SCORERS: dict[str, Callable[[], Scorer]] = {}


def register_scorer(dataset: str, factory: Callable[[], Scorer]) -> None:
    """Score runs on `dataset` with `factory()` (a fresh scorer per run)."""
    if dataset in _SCORERS:
        raise ValueError(f"dataset {dataset!r} has a scorer already")
    _SCORERS[dataset] = factory


def dataset_scorer(dataset: str) -> Callable[[], Scorer] | None:
    """The scorer factory registered for `dataset`, or None (its kind's metrics)."""
    return _SCORERS.get(dataset)


def count_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


_COUNT = re.compile(r"^(?P<base>.+?)(?P<n>\d+)(?P<k>k?)$")


def parse_counted(name: str) -> tuple[MetricSpec, int] | None:
    """(spec, sample count) of a counted name such as 'fid10k' or 'label_modes2500'."""
    m = _COUNT.match(name)
    if not m or m.group("base") not in METRICS:
        return None
    spec = METRICS.get(m.group("base"))
    if spec.counted_by is None:
        return None
    return spec, int(m.group("n")) * (1000 if m.group("k") else 1)


def entry_outputs(*, needs_classifier: bool) -> dict[str, tuple[str, ...]]:
    """`image_metrics:` entry -> the metric names it produces (torch-fidelity's entries, or
    with needs_classifier the classifier's)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, spec in METRICS.items():
        if spec.entry is not None and spec.needs_classifier == needs_classifier:
            out[spec.entry] = (*out.get(spec.entry, ()), name)
    return out
