"""Typed, closed run configuration and YAML loading with file:line error messages."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A user's configuration is wrong; the message names the file, line and field."""


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def default_data_root() -> Path:
    return Path(os.environ.get("GANBENCH_DATA", Path.home() / ".cache" / "ganbench"))


class RunConfig(Closed):
    """One training run. Experiment files hold only overrides of these defaults."""

    name: str | None = None
    dataset: str = "ring8"
    model: str = "mlp"
    loss: str = "ns"
    d_norm: Literal["batch", "layer", "none"] | None = Field(
        None, description="D's normalisation; None = the model's default"
    )
    z_dim: int | None = Field(None, gt=0, description="latent size; None = the model's default")
    steps: int = Field(2000, gt=0)
    batch_size: int = Field(256, gt=0)
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of G and D")
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = Field(0, ge=0)
    device: str = "auto"
    log_every: int = Field(50, gt=0, description="steps between loss logs")
    eval_every: int = Field(0, ge=0, description="steps between evaluations; 0 = only at the end")
    eval_samples: int = Field(2500, gt=0)
    # Image datasets: torch-fidelity metrics at each evaluation (off unless listed: on CPU
    # Inception runs at ~7 images/s, so 10k samples take ~25 min); `labels` (modes, KL to
    # uniform) and `cis` use ganbench's own classifier on `eval_samples` samples, for the
    # datasets it labels (MNIST, Fashion-MNIST, Stacked MNIST).
    image_metrics: list[Literal["fid", "kid", "isc", "prc", "labels", "cis"]] = Field(
        default_factory=list)
    fid_samples: int = Field(10000, gt=1, description="generated images per image evaluation")
    fid_real_samples: int | None = Field(
        None, gt=1, description="real reference images; None = the whole train split")
    fid_batch_size: int = Field(200, gt=0, description="batch of G and Inception in evaluation")
    tricks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    data_root: Path = Field(default_factory=default_data_root)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("each Adam beta must be in [0, 1)")
        return v

    @field_validator("image_metrics")
    @classmethod
    def _metrics_canonical(cls, v: list[str]) -> list[str]:
        # [kid, fid] and [fid, kid, fid] are the same run (and the same run key).
        return [m for m in ("fid", "kid", "isc", "prc", "labels", "cis") if m in v]

    @model_validator(mode="after")
    def _prc_needs_neighbours(self) -> RunConfig:
        n = min(self.fid_samples, self.fid_real_samples or self.fid_samples)
        if "prc" in self.image_metrics and n < 5:
            raise ValueError("prc (precision/recall, k=3 neighbours) needs fid_samples and "
                             f"fid_real_samples of at least 5, got {n}")
        return self

    @field_validator("tricks", mode="before")
    @classmethod
    def _tricks_as_mapping(cls, v: Any) -> Any:
        # `tricks: [ttur, spectral_norm]` is shorthand for paper defaults.
        # `tricks:` with every entry commented out is no tricks; `name: false` is off.
        if v is None:
            return {}
        if isinstance(v, list):
            return {str(name): {} for name in v}
        if isinstance(v, dict):
            return {k: ({} if p is None or p is True else p) for k, p in v.items()
                    if p is not False}
        return v


# ---------------------------------------------------------------- YAML with line numbers


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (for its line number).

    The last key resolves to the key node itself: an error about `tricks.foo` points at the
    line naming `foo`, not at its first parameter below."""
    for i, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    node = k if i == len(loc) - 1 else v
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node
    return node


def read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse a YAML mapping, keeping the node tree so errors can point at lines."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read file ({e.strerror})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings, got {type(data).__name__}")
    return data, node


def explain(e: ValidationError, path: Path | str, node: yaml.Node | None, prefix=(),
            fields: list[str] | None = None) -> str:
    """Turn a pydantic error into lines of `file:line: field: message`.

    `fields`: the validated model's field names, for "did you mean" on unknown keys.
    """
    lines = []
    for err in e.errors():
        loc = tuple(prefix) + tuple(err["loc"])
        line = _node_at(node, loc).start_mark.line + 1 if node is not None else "?"
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + _suggest(err["loc"], fields)
        elif err["type"].startswith(("greater_than", "less_than")):
            msg = f"{msg} (got {err.get('input')!r})"
        lines.append(f"{path}:{line}: {field}: {msg}")
    return "\n".join(lines)


def _suggest(loc: tuple[Any, ...], fields: list[str] | None) -> str:
    if len(loc) != 1 or not fields:
        return ""
    close = difflib.get_close_matches(str(loc[0]), fields, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_run_config(path: Path | str) -> RunConfig:
    """Load and fully validate a run file (schema, then trick params and conflicts)."""
    from ganbench.validate import validate  # late: validate imports the registries

    data, node = read_yaml(Path(path))
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(RunConfig.model_fields))) from None
    return validate(cfg, path, node)


def line_of(node: yaml.Node | None, *loc: Any) -> int | str:
    return _node_at(node, loc).start_mark.line + 1 if node is not None else "?"


# ---------------------------------------------------------------- sweeps


class MetricSpec(Closed):
    name: str = "modes_hq"  # 2-D mixtures: modes that count only when hq >= 50% (metrics/mog.py)
    goal: Literal["min", "max"] = "max"


class SweepSpec(Closed):
    """A sweep file: base overrides, trick levels, optional non-trick axes, design, seeds."""

    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    base: dict[str, Any] = Field(default_factory=dict)
    # each trick: a list of levels; off / on / {param: value, ...}
    tricks: dict[str, list[Any]] = Field(default_factory=dict)
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    design: Literal["full", "one-at-a-time", "leave-one-out", "fractional"] = "full"
    resolution: int = Field(4, ge=3, le=5, description="fractional designs only")
    seeds: int | list[int] = 3
    metric: MetricSpec = Field(default_factory=MetricSpec)

    @field_validator("seeds")
    @classmethod
    def _seeds_positive(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int) and v <= 0:
            raise ValueError("seeds must be a positive count or a list of seeds")
        if isinstance(v, list) and (not v or any(s < 0 for s in v) or len(set(v)) != len(v)):
            raise ValueError("a seed list must be non-empty, non-negative and without repeats")
        return v

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def load_sweep_spec(path: Path | str) -> tuple[SweepSpec, yaml.Node | None]:
    data, node = read_yaml(Path(path))
    try:
        return SweepSpec.model_validate(data), node
    except ValidationError as e:
        raise ConfigError(explain(e, path, node, fields=list(SweepSpec.model_fields))) from None
