"""Evaluation metrics: exact mode metrics for 2-D mixtures (modes, modes_hq, hq, reverse_kl)
and, on request, density and coverage (Naeem et al. 2020, k = 5; metrics/prdc.py); FID,
KID, IS, precision/recall and FD in a chosen feature space (DINOv2) for images (computed
by torch-fidelity in metrics/fidelity.py; names here need no torch-fidelity); for datasets a
ganbench classifier labels (MNIST, Fashion-MNIST, Stacked MNIST), modes covered, KL to
uniform and a classifier score (metrics/labels.py).

Image metric names carry the number of generated samples, since their bias depends on it:
`fid_samples: 10000` gives `fid10k`, 5000 `fid5k`, 2500 `fid2500`; the classifier metrics
count `eval_samples` (26000 gives `label_modes26k`).
"""

from __future__ import annotations

import math
from typing import Any

from ganbench.metrics.base import (
    METRICS,
    MetricSpec,
    count_label,
    entry_outputs,
    parse_counted,
    register_metric,
)
from ganbench.metrics.dirac import dirac_trend  # noqa: F401  (registration)
from ganbench.metrics.mog import mode_metrics
from ganbench.metrics.prdc import density_coverage  # noqa: F401  (registration)
from ganbench.metrics.protocols import generated_count
from ganbench.registry import BUILT_IN, closest, origin

# The image metrics (torch-fidelity's, metrics/fidelity.py: counted by fid_samples) and the
# classifier's (metrics/labels.py: counted by eval_samples; label_modes: classes, joint over
# channels, with >= 1 generated sample; label_kl: KL(generated label histogram || uniform);
# cis: classifier IS, ganbench's own classifier, not Inception Score). Registered here, not
# in their modules, so that naming them needs neither torch-fidelity nor the classifier.
# fd: the Fréchet distance in the `fd_features` network's space (metrics/extractors.py);
# dc: density (≥ 0, above 1 where fakes crowd dense real regions) and coverage ([0, 1]) in
# that space (Naeem et al. 2020, k = 5).
# Ranges (the report keeps intervals inside them): FID, FD and KID ≥ 0 (KID's unbiased estimate
# can dip below 0, so it is left open); IS and the classifier score ≥ 1; precision and
# recall in [0, 1]; label_modes a count ≥ 0, label_kl ≥ 0.
# Inside origin(BUILT_IN): only ganbench's own metrics may name an `entry`.
with origin(BUILT_IN):
    for _name, _goal, _entry, _low, _high in (
            ("fid", "min", "fid", 0, None), ("kid", "min", "kid", None, None),
            ("isc", "max", "isc", 1, None), ("precision", "max", "prc", 0, 1),
            ("recall", "max", "prc", 0, 1), ("fd", "min", "fd", 0, None),
            ("fd_density", "max", "dc", 0, None), ("fd_coverage", "max", "dc", 0, 1)):
        register_metric(MetricSpec(_name, _goal, "images", entry=_entry,
                                   counted_by="fid_samples", low=_low, high=_high))
    for _name, _goal, _entry, _low in (("label_modes", "max", "labels", 0),
                                       ("label_kl", "min", "labels", 0),
                                       ("cis", "max", "cis", 1)):
        register_metric(MetricSpec(_name, _goal, "images", entry=_entry,
                                   counted_by="eval_samples", needs_classifier=True, low=_low,
                                   integer=_name == "label_modes"))


def image_outputs() -> dict[str, tuple[str, ...]]:
    """`image_metrics:` entries scored by torch-fidelity -> the metric names each produces."""
    return entry_outputs(needs_classifier=False)


def label_outputs() -> dict[str, tuple[str, ...]]:
    """`image_metrics:` entries scored by ganbench's classifier -> their metric names."""
    return entry_outputs(needs_classifier=True)


def image_metric_entries() -> list[str]:
    """Every name `image_metrics:` accepts (each metric spec's `entry`), sorted."""
    return sorted({*image_outputs(), *label_outputs()})


def unknown_entry_message(entry: object) -> str:
    """What to say of an `image_metrics:` entry no metric is registered for."""
    known = image_metric_entries()
    msg = f"unknown image metric {entry!r}"
    close = closest(str(entry), known, cutoff=0.5)
    if close:
        msg += f"; did you mean {close!r}?"
    return msg + f" (known: {', '.join(known)}; a plugin may register more)"


def _counted_names(metrics: list[str], n: int, classifier: bool) -> dict[str, str]:
    return {f"{name}{count_label(n)}": spec.goal for entry in metrics
            for name, spec in METRICS.items()
            if spec.entry == entry and spec.needs_classifier == classifier}


def image_metric_names(metrics: list[str], n_gen: int) -> dict[str, str]:
    """{'fid10k': 'min', ...} for the `image_metrics` entries and generated-sample count."""
    return _counted_names(metrics, n_gen, classifier=False)


def label_metric_names(metrics: list[str], n_eval: int) -> dict[str, str]:
    """{'label_modes26k': 'max', ...} for the classifier entries of `image_metrics`."""
    return _counted_names(metrics, n_eval, classifier=True)


def available_metrics(data_kind: str, cfg: Any = None) -> dict[str, str]:
    """Metric name -> goal ('min'/'max') a run of this data kind (and config) logs: the
    kind's always-logged metrics, and with a config its `image_metrics` entries' names. A
    dataset that has metrics of its own (MetricSpec.datasets) gets those instead of its
    kind's."""
    dataset = getattr(cfg, "dataset", None)
    own = {name: spec.goal for name, spec in METRICS.items()
           if spec.datasets is not None and dataset in spec.datasets}
    if own:
        return own
    asked = getattr(cfg, "extra_metrics", ())
    out = {name: spec.goal for name, spec in METRICS.items()
           if spec.data_kind == data_kind and spec.entry is None and spec.datasets is None
           and (not spec.on_request or name in asked)}
    if data_kind == "images" and cfg is not None:
        out.update(image_metric_names(cfg.image_metrics, generated_count(cfg)))
        out.update(label_metric_names(cfg.image_metrics, cfg.eval_samples))
    return out


def metric_goal(name: str) -> str | None:
    """The better direction of any metric name, counted image names included."""
    if name in METRICS:
        return METRICS.get(name).goal
    counted = parse_counted(name)
    return counted[0].goal if counted else None


def metric_names() -> list[str]:
    """Every registered base name (counted ones without their count)."""
    return METRICS.names()


def missing_metric_hint(name: str, cfg: Any, data_kind: str = "images") -> str:
    """What to set so that a config of this data kind provides metric `name`: one computed
    on request, or a counted image metric (empty if nothing would)."""
    spec = METRICS.get(name) if name in METRICS else None
    if spec is not None and spec.on_request and spec.data_kind == data_kind:
        return f"; {name} is computed on request: add extra_metrics: [{name}] to base"
    counted = parse_counted(name) if data_kind == "images" else None
    if counted is None:
        return ""
    spec, n = counted
    fixes = []
    if spec.entry not in cfg.image_metrics:
        fixes.append(f"image_metrics: [{', '.join([*cfg.image_metrics, spec.entry])}]")
    if n != getattr(cfg, spec.counted_by):
        fixes.append(f"{spec.counted_by}: {n}")
    return f"; {name} needs {' and '.join(fixes)} in base" if fixes else ""


def update_best(best: dict[str, tuple[float, int]], metrics: dict[str, float],
                goals: dict[str, str], step: int) -> None:
    """Keep the best finite value of each goal-bearing metric with its step (first on ties)."""
    for k, v in metrics.items():
        goal = goals.get(k)
        if goal is None or not math.isfinite(v):
            continue
        if k not in best or (v < best[k][0] if goal == "min" else v > best[k][0]):
            best[k] = (v, step)


__all__ = ["METRICS", "MetricSpec", "available_metrics", "count_label", "image_metric_names",
           "image_outputs", "label_metric_names", "label_outputs", "metric_goal",
           "metric_names", "missing_metric_hint", "mode_metrics", "register_metric",
           "update_best"]
