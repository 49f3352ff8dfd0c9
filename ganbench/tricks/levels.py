"""A trick's level in a sweep: parsed from YAML, and labelled for cells and reports.

Below both sweep/ (which expands levels into cells) and report/ (which labels the levels it
reads back from the MLflow params), so neither imports the other for it.
"""

from __future__ import annotations

from typing import Any

from ganbench.schedules import describe, is_inline
from ganbench.tricks.base import TRICKS

OFF = None  # the level meaning "trick not listed"


def level_of(raw: Any) -> dict[str, Any] | None:
    """YAML level -> params: off/false/null -> None; on/true -> {} (paper defaults)."""
    if raw is None or raw is False or raw == "off":
        return OFF
    if raw is True or raw == "on":
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    raise ValueError(f"a trick level is off, on or a mapping of parameters, got {raw!r}")


def level_label(trick: str, params: dict[str, Any]) -> str:
    short = TRICKS.get(trick).short
    if not params:
        return short
    if len(params) == 1:
        (v,) = params.values()
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f"{short}{v:g}"
    inner = ",".join(f"{k}={describe(v['start'], v) if is_inline(v) else v}"
                     for k, v in sorted(params.items()))
    return f"{short}({inner})"


__all__ = ["OFF", "level_label", "level_of"]
