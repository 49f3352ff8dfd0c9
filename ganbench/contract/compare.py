"""Comparisons that say *where* two runs differ: exact (resume) or within a tolerance
(stacked seeds), NaN equal to NaN, tensors compared elementwise."""

from __future__ import annotations

import math
from typing import Any

import torch


def _equal(a: Any, b: Any, rel: float) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if rel == 0:  # bit-identical, NaN where the other has NaN
            if torch.equal(a, b) or not a.is_floating_point():
                return bool(torch.equal(a, b))
            nan = a.isnan()
            return bool(torch.equal(nan, b.isnan())
                        and torch.equal(a.masked_fill(nan, 0), b.masked_fill(nan, 0)))
        return bool(torch.allclose(a.double(), b.double(), rtol=rel, atol=rel / 100,
                                   equal_nan=True))
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b if rel == 0 else math.isclose(a, b, rel_tol=rel, abs_tol=rel / 100)
    return type(a) is type(b) and a == b


def differing_keys(a: Any, b: Any, rel: float = 0.0, at: str = "") -> list[str]:
    """The paths ('avg.weight', '[2]') at which nested dicts/lists/tensors/numbers differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{at}{k} (missing on one side)" for k in sorted(a.keys() ^ b.keys(), key=str)]
        for k in a.keys() & b.keys():
            out += differing_keys(a[k], b[k], rel, f"{at}{k}.")
        return sorted(out)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{at.rstrip('.') or 'value'} (length {len(a)} vs {len(b)})"]
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True))
                for p in differing_keys(x, y, rel, f"{at}[{i}].")]
    return [] if _equal(a, b, rel) else [at.rstrip(".") or "value"]


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The keys of two state_dicts whose tensors are not identical (or not in both)."""
    return differing_keys(a, b)


def first_difference(want: Any, got: Any, rel: float = 0.0) -> str | None:
    """None when equal; else the first differing entry of a metric history (a list of
    (step, key, value)) or of a metrics dict, as 'step 3 train/d/adv: 0.69 vs 0.70'."""
    if isinstance(want, dict) and isinstance(got, dict):
        keys = differing_keys(want, got, rel)
        return None if not keys else ", ".join(
            f"{k}: {want.get(k)!r} vs {got.get(k)!r}" for k in keys[:3])
    if [m[:2] for m in want] != [m[:2] for m in got]:
        a, b = [m[:2] for m in want], [m[:2] for m in got]
        i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                 min(len(a), len(b)))
        return (f"entry {i}: {a[i] if i < len(a) else 'nothing'} vs "
                f"{b[i] if i < len(b) else 'nothing'} (steps/keys logged differ)")
    for (step, key, x), (_, _, y) in zip(want, got, strict=True):
        if not _equal(float(x), float(y), rel):
            return f"step {step} {key}: {x!r} vs {y!r}"
    return None
