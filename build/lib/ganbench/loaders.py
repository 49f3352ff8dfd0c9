"""Run and sweep files: read, parse into the schema (config.py), check against the registries.

Above config.py and the registries it must not import: validate.py and validate_sweep.py
check names, trick parameters and conflicts; this module only strings the steps together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec, explain, line_of, read_yaml
from ganbench.validate import validate
from ganbench.validate_sweep import validate_sweep

__all__ = ["load_run_config", "load_sweep_spec"]


def _mapping(path: Path, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings, got {type(data).__name__}")
    return data


def _wrong_kind(path: Path, node: yaml.Node | None, data: dict[str, Any], own: set[str],
                other: set[str], kind: str, command: str) -> None:
    """A sweep file given to `run` (or a run file to `sweep`): one line, not N unknown keys."""
    foreign = [k for k in data if k in other and k not in own]
    if foreign and not (set(data) & (own - other)):
        raise ConfigError(f"{path}:{line_of(node, foreign[0])}: this is a {kind} file (it has "
                          f"{', '.join(map(str, foreign[:4]))}): use `ganbench {command} {path}`")


def load_run_config(path: Path | str) -> RunConfig:
    """Load and fully validate a run file (schema, then trick params and conflicts)."""
    path = Path(path)
    raw, node = read_yaml(path)
    data = _mapping(path, raw)  # an empty run file is the default run
    _wrong_kind(path, node, data, set(RunConfig.model_fields), set(SweepSpec.model_fields),
                "sweep", "sweep")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(RunConfig.model_fields))) from None
    return validate(cfg, path, node)


def load_sweep_spec(path: Path | str, max_runs: int | None = None
                    ) -> tuple[SweepSpec, yaml.Node | None]:
    """Load a sweep file and check it against the registries (names, trick parameters, metric,
    device) with file:line errors; with `max_runs`, refuse a grid larger than that before
    expanding it."""
    path = Path(path)
    raw, node = read_yaml(path)
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; a sweep file needs at least `name:` and "
                          "`tricks:` (see benchmarks/quickstart.yaml)")
    data = _mapping(path, raw)
    _wrong_kind(path, node, data, set(SweepSpec.model_fields), set(RunConfig.model_fields),
                "run", "run")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(SweepSpec.model_fields))) from None
    validate_sweep(spec, path, node, max_runs)
    return spec, node
