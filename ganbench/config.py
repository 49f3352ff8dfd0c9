"""Typed, closed run and sweep configuration and file:line messages for its errors.

The schema only: loading a file and checking it against the registries (which import this
module) is ganbench/specs/load.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ganbench import limits as L
from ganbench.devices import DEVICE_PATTERN, describe
from ganbench.registry import closest
from ganbench.schedules import BETAS_EXAMPLE, Schedule, split_inline, written_at
from ganbench.schedules import EXAMPLE as SCHEDULE_EXAMPLE
from ganbench.yamlfile import MAX_ERRORS, ConfigError, has_path, line_of, read_yaml

__all__ = ["DEVICE_PATTERN", "ConfigError", "ParamRange", "PrunerSpec", "RunConfig", "SweepSpec",
           "TuneSpec", "explain", "line_of", "read_yaml"]


class Closed(BaseModel):
    # allow_inf_nan=False and `sane`: every number finite and of a size that can run.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # (mappings are checked by the model that reads them: trick params, dataset and
    # model options)
    _sane = field_validator("*")(classmethod(lambda cls, v: v if isinstance(v, dict) else
                                             L.sane(v)))


def _not_bool(v: Any) -> Any:
    # pydantic's lax mode reads `steps: true` as 1; a boolean for a number is a mistake.
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {str(v).lower()}")
    return v


def _beta(v: Any) -> Any:
    # One of Adam's betas, as written: a number (a schedule with a start was split off
    # before this, so a mapping here lacks one).
    if isinstance(v, dict):
        raise ValueError(f"a schedule needs start (e.g. {BETAS_EXAMPLE})")
    return _not_bool(v)


Beta = Annotated[float, BeforeValidator(_beta)]  # errors at betas.0 / betas.1

_INT_FIELDS = ("z_dim", "steps", "batch_size", "lr", "seed", "log_every", "eval_every",
               "eval_samples", "eval_repeats", "fid_samples", "fid_real_samples", "fid_batch_size")


def default_data_root() -> Path:
    """`$GANBENCH_DATA`, else `~/.cache/ganbench`."""
    return Path(os.environ.get("GANBENCH_DATA", Path.home() / ".cache" / "ganbench"))


# The order of `image_metrics` in run keys made before plugins could add an entry; it keeps
# those keys (and resume) unchanged. Not a list of what may be asked for.
_KEYED_METRIC_ORDER = ("fid", "kid", "isc", "prc", "labels", "cis")


class RunConfig(Closed):
    """One training run. Experiment files hold only overrides of these defaults."""

    # identity=False: the field does not change what a run computes (its label, where it
    # runs, where its data lives). Run keys, checkpoints, stacking and the report read this.
    name: str | None = Field(None, description="a display label (`ganbench run`: the MLflow "
                             "run's name; None = the file's name and the seed)",
                             json_schema_extra={"identity": False})
    dataset: str = Field("ring8", description="a registered dataset, or a mapping "
                         "{name: folder, path: DIR, resolution: 64} (name plus its options)")
    # `dataset: {name: folder, path: DIR, resolution: 64}` is read as dataset (the name) plus
    # these options; they define the run (another folder is another run). Relative paths are
    # resolved against the YAML file when it is loaded (specs/load.py).
    dataset_options: dict[str, Any] = Field(
        default_factory=dict, description="the dataset's options (DatasetSpec.options), usually "
        "written inside the dataset mapping")
    model: str = Field("mlp", description="a registered model family, or a mapping "
                       "{name: NAME, key: value} (name plus its options)")
    # `model: {name: mynet, depth: 4}` is read as model (the name) plus these options,
    # checked against the model's schema (ModelSpec.options) and passed to its build. They
    # define the run; run keys leave out those at the schema's defaults (specs/plan.py).
    model_options: dict[str, Any] = Field(
        default_factory=dict, description="the model's options (ModelSpec.options), usually "
        "written inside the model mapping")
    loss: str = Field("ns", description="a registered adversarial loss")
    d_norm: Literal["batch", "layer", "none"] | None = Field(
        None, description="D's normalisation; None = the model's default"
    )
    z_dim: int | None = Field(None, gt=0, le=L.MAX_WIDTH,
                              description="latent size; None = the model's default")
    steps: int = Field(2000, gt=0, le=L.MAX_STEPS, description="G steps")
    batch_size: int = Field(256, gt=0, le=L.MAX_BATCH, description="samples per D and G batch")
    lr: float = Field(2e-4, gt=0, le=L.MAX_LR, description="Adam learning rate of G and D "
                      "(a mapping {start, end, shape, over} schedules it)")
    betas: tuple[Beta, Beta] = Field((0.5, 0.999), description="Adam's betas of G and D "
                                     "(a mapping {start, end, shape, over} in place of either "
                                     "schedules it)")
    seed: int = Field(0, ge=0, le=L.MAX_SEED, description="the run's seed (sweeps set it "
                      "from `seeds:`)")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N",
                        json_schema_extra={"identity": False})
    log_every: int = Field(50, gt=0, le=L.MAX_STEPS, description="steps between loss logs")
    eval_every: int = Field(0, ge=0, le=L.MAX_STEPS,
                            description="steps between evaluations; 0 = only at the end")
    # evaluation=True: the field only says how a run is scored, so `ganbench score` may change
    # it when scoring a saved generator again.
    eval_samples: int = Field(2500, gt=0, le=L.MAX_SAMPLES,
                              description="samples per evaluation of the 2-D and classifier "
                              "metrics", json_schema_extra={"evaluation": True})
    # Evaluation noise (issue 30): the final generator is scored `eval_repeats` times, each
    # draw with fresh latent samples (seeded from the run seed and the draw's index). The
    # recorded value stays the first draw, which is exactly what one draw gives, so the
    # default 1 keeps every existing run's numbers, cost and run key (keys leave defaults
    # out); k > 1 adds eval/<metric>_eval_mean and _eval_sd. It is part of the run's
    # identity: it changes what a run records.
    eval_repeats: int = Field(1, gt=0, le=L.MAX_EVAL_REPEATS,
                              description="draws of fresh latent samples the final generator "
                              "is scored with; the first is the recorded value, the sd over "
                              "all is logged as `eval/<metric>_eval_sd` (1 = one draw, no "
                              "evaluation noise measured)", json_schema_extra={"evaluation": True})
    # Image datasets: torch-fidelity metrics at each evaluation (off unless listed: on CPU
    # Inception runs at ~7 images/s, so 10k samples take ~25 min); `labels` (modes, KL to
    # uniform) and `cis` use ganbench's own classifier on `eval_samples` samples, for the
    # datasets it labels (MNIST, Fashion-MNIST, Stacked MNIST).
    # Entries are the metric registry's `entry` names (a plugin may add one), checked
    # against it in specs/run.py.
    image_metrics: list[str] = Field(
        default_factory=list, description="image metrics computed at each evaluation (fid, "
        "kid, isc, prc, fd, dc, labels, cis, or a plugin's); off unless listed",
        json_schema_extra={"evaluation": True})
    # Metrics computed only where asked (MetricSpec.on_request: density and coverage on 2-D
    # data, or a plugin's), checked against the registry in specs/run.py.
    extra_metrics: list[str] = Field(
        default_factory=list, description="metrics computed at each evaluation only when "
        "listed (density, coverage on 2-D data, or a plugin's)",
        json_schema_extra={"evaluation": True})
    fid_samples: int = Field(10000, gt=1, le=L.MAX_SAMPLES,
                             description="generated images per image evaluation",
                             json_schema_extra={"evaluation": True})
    fid_real_samples: int | None = Field(
        None, gt=1, le=L.MAX_SAMPLES,
        description="real reference images; None = the whole train split",
        json_schema_extra={"evaluation": True})
    fid_batch_size: int = Field(200, gt=0, le=L.MAX_BATCH,
                                description="batch of G and Inception in evaluation",
                                json_schema_extra={"evaluation": True})
    # A published protocol by name fixes the sample counts and the real split (the PROTOCOLS
    # registry, metrics/protocols.py, or a plugin's; checked against it in specs/run.py;
    # fid_samples / fid_real_samples are then unused); None = those two against the train
    # split.
    fid_protocol: str | None = Field(
        None, description="a published FID protocol by name (fixes both counts and the real "
        "split); None = fid_samples and fid_real_samples against the train split",
        json_schema_extra={"evaluation": True})
    # How images reach Inception's 299x299 input (metrics/resize.py): torch-fidelity's TF
    # bilinear (legacy, the default), clean-fid's clean (PIL bicubic) or StudioGAN's
    # friendly (PIL bilinear); a protocol tag of every Inception metric.
    fid_resize: Literal["tf-bilinear", "clean", "friendly"] = Field(
        "tf-bilinear", description="how images reach Inception's input: tf-bilinear "
        "(torch-fidelity's, legacy), clean (clean-fid: PIL bicubic) or friendly (StudioGAN: "
        "PIL bilinear)", json_schema_extra={"evaluation": True})
    # `fd` (an image_metrics entry): FID's formula in another feature space, the network a
    # name in the extractor registry (metrics/extractors.py, or a plugin's; checked in
    # specs/run.py); DINOv2 ViT-L/14 by default (Stein et al. 2023). Its weights come from
    # the network's own source (torch.hub for DINOv2, online) unless fd_weights names a file
    # (read as plain tensors, never unpickled); the protocol records its sha256.
    fd_features: str = Field(
        "dinov2-vit-l-14", description="the feature network of `fd` and `dc` (dinov2-vit-l-14, "
        "dinov2-vit-b-14, inception-v3-compat, or a plugin's)",
        json_schema_extra={"evaluation": True})
    fd_weights: Path | None = Field(
        None, description="a weights file for fd_features; None = the network's own source "
        "(DINOv2: torch.hub, online)",
        # Where the file lives does not define the run; its sha256 is in the protocol tag.
        json_schema_extra={"evaluation": True, "identity": False})
    # --- model widths and class-conditional GANs (models/resnet.py, models/conditional.py).
    # g_width/d_width: the width of G's and D's reference layer (the ResNets' widest), for
    # models whose spec declares widths; None = the paper's. conditional: G with
    # class-conditional batch norm and D with a projection head (Miyato & Koyama 2018),
    # trained on a labelled dataset's labels.
    g_width: int | None = Field(None, gt=0, le=L.MAX_WIDTH,
                                description="G's width; None = the paper's")
    d_width: int | None = Field(None, gt=0, le=L.MAX_WIDTH,
                                description="D's width; None = the paper's")
    conditional: bool = Field(False, description="class-conditional G and D (cGAN-PD)")

    _widths_not_bools = field_validator("g_width", "d_width", mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))
    # --- end of model widths and class-conditional GANs
    tricks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="trick name -> its parameters ({} = the paper's "
        "defaults); a list of names is shorthand; a trick not listed is off")
    data_root: Path = Field(default_factory=default_data_root,
                            description="where datasets, caches and weights are kept",
                            json_schema_extra={"identity": False})
    # --- plugins (ganbench/specs/plugins.py): modules or .py files (relative to the run file)
    # imported before the file's names are checked. identity=False: what a plugin computes
    # is identified by its recorded content hash (the `ganbench.plugins` tag), not its name.
    plugins: list[str] = Field(default_factory=list,
                               description="plugin modules or .py files (relative to the file) "
                               "imported before the file's names are checked",
                               json_schema_extra={"identity": False})

    # Written inline (`lr: {start: 2e-4, end: 0}`, an Adam beta or a trick parameter
    # likewise) and stored here by split_inline, the parameter keeping its start
    # (ganbench/schedules.py). Keys: "lr", "beta1", "beta2" or "<trick>.<param>"; what may
    # be scheduled is checked in specs/run.py.
    schedules: dict[str, Schedule] = Field(
        default_factory=dict, description="parameters that move over training: "
        "{\"lr\", \"beta1\", \"beta2\" or \"trick.param\": {end, shape, over}}, usually "
        "written inline as lr: {start: 2e-4, end: 0} or betas: [0.0, {start: 0.9, end: 0.99}]")

    @classmethod
    def not_identity(cls) -> frozenset[str]:
        """The fields that do not define a run (declared with identity=False)."""
        return frozenset(k for k, f in cls.model_fields.items()
                         if isinstance(f.json_schema_extra, dict)
                         and f.json_schema_extra.get("identity") is False)

    @classmethod
    def evaluation_fields(cls) -> frozenset[str]:
        """The fields that only say how a run is scored (declared with evaluation=True)."""
        return frozenset(k for k, f in cls.model_fields.items()
                         if isinstance(f.json_schema_extra, dict)
                         and f.json_schema_extra.get("evaluation") is True)

    def identity(self, exclude: set[str] | frozenset[str] = frozenset(),
                 exclude_defaults: bool = False) -> dict[str, Any]:
        """What defines this run, as JSON values (the same for equal runs on any machine)."""
        return json.loads(self.model_dump_json(exclude=set(self.not_identity() | exclude),
                                               exclude_defaults=exclude_defaults))

    @model_validator(mode="before")
    @classmethod
    def _named_mappings(cls, v: Any) -> Any:
        # {name: folder, path: ..., resolution: 64} -> dataset: folder + dataset_options;
        # {name: mynet, depth: 4} -> model: mynet + model_options.
        for field, example in (("dataset", "{name: folder, path: DIR, resolution: 64}"),
                               ("model", "{name: mynet, depth: 4}")):
            if not isinstance(v, dict) or not isinstance(v.get(field), dict):
                continue
            spec = dict(v[field])
            if "name" not in spec or not isinstance(spec["name"], str):
                raise ValueError(f"{field}: a mapping needs `name:` (e.g. {field}: {example})")
            if v.get(f"{field}_options"):
                raise ValueError(f"{field}: give the options inside the {field} mapping or as "
                                 f"{field}_options, not both")
            v = {**v, field: spec.pop("name"), f"{field}_options": spec}
        return v

    @model_validator(mode="before")
    @classmethod
    def _inline_schedules(cls, v: Any) -> Any:
        return split_inline(v) if isinstance(v, dict) else v

    @field_validator("lr", mode="before")
    @classmethod
    def _schedule_needs_start(cls, v: Any) -> Any:
        if isinstance(v, dict):  # a schedule with a start was split off before this
            raise ValueError(f"a schedule needs start (e.g. {SCHEDULE_EXAMPLE})")
        return v

    _numbers_not_bools = field_validator(*_INT_FIELDS, mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        # Only the spelling here: whether this machine has the device is checked where the
        # run starts (a sweep may be enqueued on a CPU machine for GPU workers).
        if not re.match(DEVICE_PATTERN, v):
            raise ValueError(f"{v!r} is not a device: use auto, cpu, cuda or cuda:N "
                             f"({describe()})")
        return v

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("each Adam beta must be in [0, 1)")
        return v

    @field_validator("extra_metrics")
    @classmethod
    def _extra_canonical(cls, v: list[str]) -> list[str]:
        return sorted(set(v))  # [coverage, density] and [density, coverage] are one run

    @field_validator("image_metrics")
    @classmethod
    def _metrics_canonical(cls, v: list[str]) -> list[str]:
        # [kid, fid] and [fid, kid, fid] are the same run (and the same run key): the
        # built-in entries in the order keys were made with before plugins could add one,
        # then any other in name order. Which names exist is the registry's to say.
        first = [m for m in _KEYED_METRIC_ORDER if m in v]
        return first + sorted(set(v) - set(first))

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


# ---------------------------------------------------------------- errors with their line


def explain(e: ValidationError, path: Path | str, node: yaml.Node | None, prefix=(),
            fields: list[str] | None = None, nested: tuple[str, list[str]] | None = None,
            unknown: str = "unknown field") -> str:
    """Turn a pydantic error into lines of `file:line: field: message` (at most MAX_ERRORS).

    `fields`: the validated model's field names, for "did you mean" on unknown keys.
    `nested`: (key, its fields): an unknown top-level key that belongs under `key` (a run
    setting at the top of a sweep file) is pointed there.
    `unknown`: what an unknown key is called (a model's options name the model).
    """
    lines, errors = [], e.errors()
    for err in errors[:MAX_ERRORS]:  # formatting (line, did-you-mean) costs; 100k keys happen
        loc = as_written(node, tuple(prefix) + tuple(err["loc"]), len(prefix))
        field = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{path}:{line_of(node, *loc)}: {field}: "
                     f"{error_message(err, fields, nested, unknown)}")
    if len(errors) > MAX_ERRORS:
        lines.append(f"... and {len(errors) - MAX_ERRORS} more")
    return "\n".join(lines)


def error_message(err: Any, fields: list[str] | None = None,
                  nested: tuple[str, list[str]] | None = None,
                  unknown: str = "unknown field") -> str:
    """One pydantic error's message as the user reads it (explain's arguments)."""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        under = nested and len(err["loc"]) == 1 and str(err["loc"][0]) in nested[1]
        return unknown + (f"; it is a run setting: put it under {nested[0]}: "
                          f"({nested[0]}.{err['loc'][0]})" if under
                          else _suggest(err["loc"], fields))
    if err["type"].startswith(("greater_than", "less_than")):
        got = repr(err.get("input"))
        return f"{msg} (got {got if len(got) <= 40 else got[:20] + '...'})"
    return msg


def as_written(node: yaml.Node | None, loc: tuple[Any, ...], at: int) -> tuple[Any, ...]:
    """`loc` (a run config's, from position `at`) as the file wrote it: a schedule written
    inline (`lr: {start: ..., end: ...}`) is stored under `schedules`, which the file lacks."""
    if (len(loc) > at + 1 and loc[at] == "schedules" and node is not None
            and not has_path(node, loc[:at + 2])):
        return loc[:at] + written_at(str(loc[at + 1])) + loc[at + 2:]
    return loc


def as_given(loc: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """A run config's error `loc` as `raw` (its mapping before validation) wrote it: a
    schedule written inline is stored under `schedules`, which `raw` lacks (a sweep's
    cell, checked before its file's lines are looked up)."""
    given = raw.get("schedules") if isinstance(raw, dict) else None
    if (len(loc) > 1 and loc[0] == "schedules"
            and str(loc[1]) not in (given if isinstance(given, dict) else {})):
        return written_at(str(loc[1])) + tuple(loc[2:])
    return tuple(loc)


def did_you_mean(name: str, choices: list[str]) -> str:
    """"; did you mean 'x'?" for the choice closest to `name`, or ""."""
    close = closest(name, choices)
    return f"; did you mean {close!r}?" if close else ""


def _suggest(loc: tuple[Any, ...], fields: list[str] | None) -> str:
    return did_you_mean(str(loc[0]), fields) if len(loc) == 1 and fields else ""


# ---------------------------------------------------------------- sweeps


class RankMetric(Closed):
    # 2-D mixtures: modes + hq, no cliff (metrics/mog.py)
    name: str = Field("mode_score", description="the ranking metric as logged (fid10k, not fid)")
    goal: Literal["min", "max"] = Field("max", description="which direction is better")


# ---- tuning (the `tune:` block): budget-fair comparisons, one Optuna study per cell
# (sweep/tune.py). Names in `space` are checked against the run settings and the sweep's
# tricks in specs/tune.py, with their file:line.


class ParamRange(Closed):
    """A continuous range to search (integers when low and high are both integers)."""

    low: float | int = Field(..., description="lowest value searched")
    high: float | int = Field(..., description="highest value searched")
    log: bool = Field(False, description="search on a log scale")

    _no_bools = field_validator("low", "high", mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


class PrunerSpec(Closed):
    name: Literal["median", "percentile", "none"] = Field("median", description="Optuna's pruner")
    warmup_steps: int = Field(0, ge=0, le=L.MAX_STEPS,
                              description="steps before a trial may be pruned")
    startup_trials: int = Field(5, ge=0, description="finished trials before pruning starts")
    percentile: float = Field(25.0, gt=0, lt=100, description="percentile pruner only")


class TuneSpec(Closed):
    budget: int = Field(..., gt=0, description="trials per cell, the same for every cell")
    sampler: Literal["tpe", "random", "grid"] = Field(
        "tpe", description="Optuna's sampler (grid: value lists only)")
    seed: int = Field(0, ge=0, le=L.MAX_SEED,
                      description="the sampler's seed, the same for every cell")
    # a setting or tricks.<trick>.<param> -> a range, or a list of values (categorical)
    space: dict[str, ParamRange | list[Any]] = Field(
        ..., min_length=1, description="a run setting or tricks.<trick>.<param> -> a range or "
        "a list of values")
    tune_seeds: int = Field(1, gt=0, le=100, description="seeds per trial while searching")
    pruner: PrunerSpec | None = Field(None, description="stop unpromising trials early; None = "
                                      "no pruning")

    _no_bools = field_validator("budget", "seed", "tune_seeds", mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))

# ---- end of tuning


# ---- launching (the `launcher:` block): where the workers of a sweep run
# (ganbench/sweep/launch.py). The command line's options of the same names win.

SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def slurm_minutes(v: Any) -> int:
    """A time limit as whole minutes: an integer (minutes) or Slurm's own forms: "MM",
    "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS" (seconds round up)."""
    if isinstance(v, bool):
        raise ValueError("not a time limit: give minutes or HH:MM:SS, not a boolean")
    if isinstance(v, int):
        minutes = v
    else:
        m = SLURM_TIME.match(str(v).strip())
        if not m:
            raise ValueError("not a time limit: give minutes (e.g. 90) or Slurm's "
                             "HH:MM:SS / D-HH:MM:SS (e.g. 24:00:00)")
        d, a, b, c = (int(x) if x else None for x in m.groups())
        if d is not None:  # D-HH[:MM[:SS]]
            secs = d * 86_400 + a * 3600 + (b or 0) * 60 + (c or 0)
        elif c is not None:  # HH:MM:SS
            secs = a * 3600 + b * 60 + c
        elif b is not None:  # MM:SS
            secs = a * 60 + b
        else:  # MM
            secs = a * 60
        minutes = -(-secs // 60)
    if not 1 <= minutes <= L.MAX_SECONDS // 60:
        raise ValueError(f"a time limit between 1 minute and {L.MAX_SECONDS // 86_400} "
                         "days")
    return minutes


class LauncherSpec(Closed):
    """Where the sweep's workers run: `local` (processes under this command, the default) or
    `slurm` (a Slurm job array submitted through submitit, on the shared queue)."""

    name: str = Field("local", pattern=r"^[a-z][a-z0-9_-]*$",
                      description="the launcher: local or slurm (or one a plugin registers)")
    cluster: Literal["slurm", "local"] = Field(
        "slurm", description="slurm only: `local` runs the jobs as processes on this machine "
        "through submitit's local executor (to try the launch path without Slurm)")
    partition: str | None = Field(None, min_length=1, description="Slurm partition (default: "
                                  "the cluster's)")
    time: int = Field(1440, description="each job's time limit: minutes or HH:MM:SS / "
                      "D-HH:MM:SS; a job stopped at its limit is requeued")
    gpus_per_task: int | None = Field(None, ge=0, le=L.MAX_PROCESSES,
                                      description="GPUs per job (default: none asked for)")
    cpus_per_task: int | None = Field(None, ge=1, le=L.MAX_THREADS,
                                      description="CPU cores per job (default: the cluster's)")
    array_parallelism: int | None = Field(None, ge=1, le=L.MAX_PROCESSES * 16,
                                          description="at most this many jobs of the array "
                                          "run at once (default: submitit's, 256)")
    heartbeat_interval: int = Field(30, ge=1, le=L.MAX_SECONDS,
                                    description="seconds between a job's heartbeats")
    grace_period: int = Field(120, ge=2, le=L.MAX_SECONDS,
                              description="seconds without a heartbeat after which another "
                              "job takes over a killed job's run (longer than the heartbeat)")

    _minutes = field_validator("time", mode="before")(classmethod(
        lambda cls, v: slurm_minutes(v)))
    _no_bools = field_validator("gpus_per_task", "cpus_per_task", "array_parallelism",
                                "heartbeat_interval", "grace_period", mode="before")(
        classmethod(lambda cls, v: _not_bool(v)))

    @model_validator(mode="after")
    def _grace_after_heartbeat(self) -> LauncherSpec:
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError(f"grace_period ({self.grace_period}) must be longer than "
                             f"heartbeat_interval ({self.heartbeat_interval})")
        return self


class SequentialSeeds(Closed):
    """`seeds: {min: 3, max: 12}`: `min` seeds per cell, then `step` more at a time only for
    the primary comparisons still open, until each is decided or has `max` paired seeds
    (report/sequential.py: a group-sequential sign-flip test that keeps the 5% level)."""

    min: int = Field(3, ge=2, le=64, description="seeds every cell gets first")
    max: int = Field(..., ge=2, le=64, description="the most seeds a comparison gets")
    step: int = Field(1, ge=1, le=64, description="seeds added per round to open comparisons")
    spending: float = Field(1.0, gt=0, le=10, description="level spent by n seeds: "
                            "alpha·(n/max)^spending (1: evenly; larger keeps more for max)")

    _no_bools = field_validator("min", "max", "step", mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))

    @model_validator(mode="after")
    def _order(self) -> SequentialSeeds:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class SweepSpec(Closed):
    """A sweep file: base overrides, trick levels, optional non-trick axes, design, seeds."""

    name: str = Field(..., min_length=1, description=L.NAME_RULE)
    base: dict[str, Any] = Field(default_factory=dict, description="run settings shared by "
                                 "every cell (RunConfig fields)")
    # each trick: a list of levels; off / on / {param: value, ...}
    tricks: dict[str, list[Any]] = Field(default_factory=dict, description="trick -> its "
                                         "levels: off, on or {param: value}")
    axes: dict[str, list[Any]] = Field(default_factory=dict, description="non-trick axes: "
                                       "a run setting -> its values")
    # A registered design (specs/designs.py, or a plugin's); the name is checked against the
    # registry once the file's plugins are loaded (specs/sweep.py), not listed here.
    design: str = Field("full", description="which combinations of trick levels are cells: "
                        "a registered design")
    resolution: int = Field(4, ge=3, le=5, description="fractional designs only")
    seeds: int | list[int] | SequentialSeeds = Field(
        3, description="a count (seeds 0..n-1), a list of seeds, or {min, max, step}: seeds "
        "added only where the primary comparison is still open")
    metric: RankMetric = Field(default_factory=RankMetric, description="the ranking metric")
    # --- plugins (ganbench/specs/plugins.py): modules or .py files (relative to the sweep file)
    # imported before the file's names are checked; recorded on the study for the workers.
    plugins: list[str] = Field(default_factory=list, description="plugin modules or .py "
                               "files (relative to the file), loaded by every worker too")
    # tuned sweeps: seeds are the final phase (each cell's best configuration x seeds)
    tune: TuneSpec | None = Field(None, description="a search budget per cell before "
                                  "ranking; None = untuned")
    launcher: LauncherSpec | None = Field(None, description="where the workers run (None: "
                                          "local processes; or a Slurm job array)")

    _no_bools = field_validator("resolution", mode="before")(classmethod(
        lambda cls, v: _not_bool(v)))

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        problem = L.name_problem(v)  # it names a folder, a journal and an MLflow experiment
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds_not_bools(cls, v: Any) -> Any:
        if isinstance(v, dict):  # one clear message, not one per member of the union
            try:
                return SequentialSeeds.model_validate(v)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(map(str, err["loc"]))
                known = ", ".join(SequentialSeeds.model_fields)
                raise ValueError(f"{where + ': ' if where else ''}{err['msg']} (a sequential "
                                 f"seeds mapping has {known})") from None
        for s in v if isinstance(v, list) else [v]:
            _not_bool(s)
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds_positive(cls, v: int | list[int] | SequentialSeeds
                        ) -> int | list[int] | SequentialSeeds:
        if isinstance(v, int) and v <= 0:
            raise ValueError("seeds must be a positive count or a list of seeds")
        if isinstance(v, list) and (not v or any(s < 0 for s in v) or len(set(v)) != len(v)):
            raise ValueError("a seed list must be non-empty, non-negative and without repeats")
        return v

    @property
    def sequential(self) -> SequentialSeeds | None:
        return self.seeds if isinstance(self.seeds, SequentialSeeds) else None

    @property
    def n_seeds(self) -> int:
        """Seeds per cell (sequential: the most a cell can get)."""
        if isinstance(self.seeds, SequentialSeeds):
            return self.seeds.max
        return self.seeds if isinstance(self.seeds, int) else len(self.seeds)

    @property
    def seed_list(self) -> list[int]:
        """Every seed a cell may get (sequential: 0..max−1; the rounds decide how many)."""
        if isinstance(self.seeds, SequentialSeeds):
            return list(range(self.seeds.max))
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)
