"""Typed, closed run configuration and YAML loading with file:line error messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


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
    lr: float = Field(2e-4, gt=0, le=1.0, description="Adam learning rate of G and D")
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = Field(0, ge=0)
    device: str = "auto"
    log_every: int = Field(50, gt=0, description="steps between loss logs")
    eval_every: int = Field(0, ge=0, description="steps between evaluations; 0 = only at the end")
    eval_samples: int = Field(2500, gt=0)
    tricks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    data_root: Path = Field(default_factory=default_data_root)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("each Adam beta must be in [0, 1)")
        return v

    @field_validator("tricks", mode="before")
    @classmethod
    def _tricks_as_mapping(cls, v: Any) -> Any:
        # `tricks: [ttur, spectral_norm]` is shorthand for paper defaults.
        if isinstance(v, list):
            return {str(name): {} for name in v}
        if isinstance(v, dict):
            return {k: ({} if p is None or p is True else p) for k, p in v.items()}
        return v


# ---------------------------------------------------------------- YAML with line numbers


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (for its line number)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    node = k if v is None else v
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


def explain(e: ValidationError, path: Path | str, node: yaml.Node | None, prefix=()) -> str:
    """Turn a pydantic error into lines of `file:line: field: message`."""
    lines = []
    for err in e.errors():
        loc = tuple(prefix) + tuple(err["loc"])
        line = _node_at(node, loc).start_mark.line + 1 if node is not None else "?"
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field" + _suggest_field(loc)
        elif err["type"].startswith(("greater_than", "less_than")):
            msg = f"{msg} (got {err.get('input')!r})"
        lines.append(f"{path}:{line}: {field}: {msg}")
    return "\n".join(lines)


def _suggest_field(loc: tuple[Any, ...]) -> str:
    import difflib

    if len(loc) != 1:
        return ""
    close = difflib.get_close_matches(str(loc[0]), list(RunConfig.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_run_config(path: Path | str) -> RunConfig:
    """Load and fully validate a run file (schema, then trick params and conflicts)."""
    from ganbench.validate import validate  # late: validate imports the registries

    data, node = read_yaml(Path(path))
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(explain(e, path, node)) from None
    return validate(cfg, path, node)


def line_of(node: yaml.Node | None, *loc: Any) -> int | str:
    return _node_at(node, loc).start_mark.line + 1 if node is not None else "?"
