"""Run and sweep files: read, parse into the schema (config.py), check against the registries.

Above config.py and the registries it must not import: specs/run.py and specs/sweep.py check
names, trick parameters and conflicts; this module only strings the steps together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench.config import ConfigError, RunConfig, SweepSpec, explain, line_of, read_yaml
from ganbench.specs import plugins
from ganbench.specs.run import validate
from ganbench.specs.sweep import validate_sweep

__all__ = ["load_file_plugins", "load_run_config", "load_sweep_spec"]


def load_file_plugins(entries: list[str], path: Path,
                      node: yaml.Node | None) -> list[plugins.Plugin]:
    """The installed and GANBENCH_PLUGINS plugins, then the file's own `plugins:` (relative
    to the file): before any name in the file is checked against the registries."""
    out = plugins.load_startup()
    return out + plugins.load(entries, path.parent, lambda i: (
        f"{path}:{line_of(node, 'plugins', i)}: plugins[{i}]"))


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


def _absolute(value: Any, base: Path) -> Any:
    """A dataset mapping (or dataset_options) with a relative `path` made absolute against
    the folder of the YAML file that names it (so a run works from any directory)."""
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        p = Path(value["path"]).expanduser()
        if not p.is_absolute():
            return {**value, "path": str((base / p).resolve())}
    return value


def _resolve_dataset_paths(run: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(run)
    for key in ("dataset", "dataset_options"):
        if key in out:
            out[key] = _absolute(out[key], base)
    return out


def _protocol_counts(path: Path, node: yaml.Node | None, run: dict[str, Any],
                     prefix: tuple[Any, ...] = ()) -> None:
    """A named fid_protocol fixes the sample counts: setting them too is a mistake."""
    given = [k for k in ("fid_samples", "fid_real_samples") if k in run]
    if run.get("fid_protocol") is not None and given:
        raise ConfigError(f"{path}:{line_of(node, *prefix, given[0])}: {given[0]}: "
                          f"fid_protocol {run['fid_protocol']!r} sets the sample counts and the "
                          f"real split itself; remove {' and '.join(given)} or fid_protocol")


def load_run_config(path: Path | str) -> RunConfig:
    """Load and fully validate a run file (schema, then trick params and conflicts)."""
    path = Path(path)
    raw, node = read_yaml(path)
    data = _mapping(path, raw)  # an empty run file is the default run
    _wrong_kind(path, node, data, set(RunConfig.model_fields), set(SweepSpec.model_fields),
                "sweep", "sweep")
    _protocol_counts(path, node, data)
    data = _resolve_dataset_paths(data, path.resolve().parent)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(RunConfig.model_fields))) from None
    load_file_plugins(cfg.plugins, path, node)
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
    data = dict(data)
    here = path.resolve().parent
    if isinstance(data.get("base"), dict):
        _protocol_counts(path, node, data["base"], ("base",))
        data["base"] = _resolve_dataset_paths(data["base"], here)
    axes = data.get("axes")
    if isinstance(axes, dict) and isinstance(axes.get("dataset"), list):
        data["axes"] = {**axes, "dataset": [_absolute(v, here) for v in axes["dataset"]]}
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(SweepSpec.model_fields),
                                  nested=("base", list(RunConfig.model_fields)))) from None
    if "plugins" in spec.base:
        raise ConfigError(f"{path}:{line_of(node, 'base', 'plugins')}: base.plugins: a sweep "
                          "lists its plugins at the top of the file (plugins: [...]), for "
                          "every run and worker")
    load_file_plugins(spec.plugins, path, node)
    validate_sweep(spec, path, node, max_runs)
    return spec, node
