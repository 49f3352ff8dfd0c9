"""Published numbers beside a ranked table: the references (metrics/references.py) for the
sweep's dataset and metric, each either shown (the group's protocol agrees with it in every
tag) or listed as not comparable with the tags that differ. Plain sentences; markdown.py and
latex.py render them under the ranked table. No reference for the dataset and metric: no
sentence at all, so reports of other sweeps are unchanged.
"""

from __future__ import annotations

import pandas as pd

from ganbench.metrics.references import (
    TF_INCEPTION,
    Match,
    compare,
    metric_base,
    references_for,
    run_tags,
)


def _values(tidy: pd.DataFrame, runs: pd.DataFrame, col: str) -> set[str]:
    """The values of one store column over the group's runs (none if the column is absent)."""
    if col not in runs.columns:
        return set()
    return set(runs.loc[runs["run_id"].isin(set(tidy["run_id"])), col].dropna().astype(str))


def _datasets(tidy: pd.DataFrame, runs: pd.DataFrame, tags: dict) -> list[str]:
    """The group's datasets: each run's `params.dataset`, else the protocol's `ref=`."""
    got = _values(tidy, runs, "params.dataset")
    if got:
        return sorted(got)
    return [str(tags["dataset"])] if "dataset" in tags else []


def _weights_source(tidy: pd.DataFrame, runs: pd.DataFrame) -> str | None:
    got = _values(tidy, runs, "tags.fidelity.weights_source")
    return "user" if "user" in got else (got.pop() if len(got) == 1 else None)


def matches(protocol: str, tidy: pd.DataFrame, runs: pd.DataFrame, metric: str) -> list[Match]:
    """Every reference for the group's dataset(s) and `metric`, judged against its protocol."""
    if not protocol:
        return []
    tags = run_tags(protocol, _weights_source(tidy, runs))
    return [compare(tags, ref) for ds in _datasets(tidy, runs, tags)
            for ref in references_for(ds, metric_base(metric))]


def sentence(m: Match) -> str:
    """One line: 'Published: ...' or 'Not comparable: ... (differs in: ...)'."""
    r = m.reference
    if m.comparable:
        means = r.pm_means + (f", {r.pm_detail}" if r.pm_detail else "")
        pm = f"± = {means}; " if r.pm is not None else ""
        # Same network and resize, not the same code: say so where the number is shown.
        port = ("; measured with TF's Inception, ours with torch-fidelity's PyTorch port of it"
                if r.features == TF_INCEPTION else "")
        return (f"Published: {r.label} ({r.dataset}), {r.value_text()} ({pm}{r.training}; "
                f"{r.source}{port}).")
    return (f"Not comparable: {r.label} ({r.dataset}) {r.metric.upper()} {r.value:g} "
            f"(differs in: {m.differences()}).")


def sentences(protocol: str, tidy: pd.DataFrame, runs: pd.DataFrame, metric: str) -> list[str]:
    return [sentence(m) for m in matches(protocol, tidy, runs, metric)]
