"""Semantic checks of a RunConfig against the registries and the tricks' declarations.

Schema errors are pydantic's job (config.py); this module checks what only the registries
know: names, trick parameters, conflicts and caveats. Every message names file:line:field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ganbench import limits
from ganbench.config import ConfigError, RunConfig, did_you_mean, explain, line_of
from ganbench.data import DATASETS, data_kind
from ganbench.data.base import (
    DataInfo,
    dataset_classifier,
    dataset_info,
    dataset_options_model,
)
from ganbench.losses import LOSSES
from ganbench.metrics import (
    available_metrics,
    image_metric_entries,
    label_outputs,
    unknown_entry_message,
)
from ganbench.metrics.base import METRICS
from ganbench.metrics.extractors import EXTRACTORS
from ganbench.metrics.protocols import PROTOCOLS, FidProtocol, generated_count, split_size
from ganbench.models import MODELS
from ganbench.registry import BUILT_IN, UnknownNameError, closest
from ganbench.safefile import NotAFileError, regular_file
from ganbench.schedules import RUN_PARAMS, is_inline, written_at
from ganbench.tricks import TRICKS, Finding, TrickStack
from ganbench.tricks.base import OptimSpec
from ganbench.yamlfile import cap_lines, has_path


def models_for(kind: str) -> list[str]:
    """The registered models for a data kind, by name."""
    return MODELS.names(data_kind=kind)


def _first(reg, names: list[str], preferred: str) -> str:
    """`preferred` if it is among `names`, else the first built-in of them, else the first."""
    if preferred in names:
        return preferred
    builtin = [n for n in names if reg.origin_of(n) == BUILT_IN]
    return (builtin or names)[0]


def probe_pair(kind: str) -> tuple[str, str]:
    """A registered (dataset, model) pair of data kind `kind` that checks can probe with: the
    config's defaults where they fit, else the first built-in of the kind by name. ValueError
    when no dataset or model of that kind is registered."""
    datasets = DATASETS.names(kind=kind)
    models = models_for(kind)
    if not datasets or not models:
        raise ValueError(f"no registered dataset and model for {kind} data")
    defaults = RunConfig.model_fields
    return (_first(DATASETS, datasets, defaults["dataset"].default),
            _first(MODELS, models, defaults["model"].default))


def check_run(cfg: RunConfig) -> list[Finding]:
    """All findings for a config whose names are valid: model/data fit, then each trick."""
    cfg = resolve_defaults(cfg)
    out = []
    model = MODELS.get(cfg.model)
    kind = data_kind(cfg.dataset)
    if model.data_kind != kind:
        fits = models_for(kind)
        out.append(
            Finding(
                "conflict",
                "model",
                f"model {cfg.model!r} is for {model.data_kind} but dataset {cfg.dataset!r} "
                f"is {kind}",
                f"use model: {' or '.join(fits)} for {kind} data" if fits else
                f"no registered model is for {kind} data",
            )
        )
    wanted = [m for m in cfg.image_metrics if m in label_outputs()]
    if wanted and dataset_classifier(cfg.dataset) is None:
        labelled = [n for n in DATASETS.names() if dataset_classifier(n)]
        out.append(Finding("conflict", "image_metrics",
                           f"image_metrics {wanted} need a dataset ganbench's classifier "
                           f"labels, not {cfg.dataset!r}",
                           f"use them with {', '.join(labelled)}"))
    return (out + model_findings(cfg) + data_findings(cfg, model.image_size)
            + betas_findings(cfg) + TrickStack.from_config(cfg).check(cfg))


def betas_findings(cfg: RunConfig) -> list[Finding]:
    """A schedule of Adam's betas with a trick that leaves it nothing to move: one that
    replaces Adam (plain gradient descent) or sets the betas itself (the betas its
    `optimizers` hook is given do not come out of it unchanged)."""
    keys = [k for k in cfg.schedules if k in RUN_PARAMS and k != "lr"]
    if not keys:
        return []
    moved = f"a schedule of {' and '.join(sorted(keys))} would move nothing"
    out = []
    for trick in TrickStack.from_config(cfg).tricks:
        for betas in ((0.5, 0.999), (0.1, 0.9)):
            spec = trick.optimizers(OptimSpec(cfg.lr, cfg.lr, betas, betas))
            why = (f"trains with {spec.kind.upper()}, which has no betas" if spec.kind != "adam"
                   else "sets Adam's betas itself"
                   if (tuple(spec.g_betas), tuple(spec.d_betas)) != (betas, betas) else None)
            if why:
                out.append(Finding("conflict", trick.name, f"{why}: {moved}",
                                   "keep betas constant with it"))
                break
    return out


def model_findings(cfg: RunConfig) -> list[Finding]:
    """Widths the model cannot take; `conditional` without a labelled dataset or a
    conditional variant of the model."""
    model, out = MODELS.get(cfg.model), []
    with_widths = MODELS.names(widths=bool)
    for i, field in enumerate(("g_width", "d_width")):
        width = getattr(cfg, field)
        if width is None:
            continue
        if model.widths is None:
            out.append(Finding("conflict", field, f"model {cfg.model!r} has fixed widths",
                               f"remove {field}, or use {', '.join(with_widths)}"))
        elif width % model.width_multiple[i]:
            m = model.width_multiple[i]
            out.append(Finding("conflict", field, f"model {cfg.model!r} needs a multiple of "
                               f"{m} (its narrowest layer is {field} / {m})",
                               f"{field}: {max(m, width // m * m)}"))
    if cfg.conditional:
        if not model.conditional:
            have = MODELS.names(conditional=True)
            out.append(Finding("conflict", "conditional", f"model {cfg.model!r} has no "
                               "class-conditional variant", f"use {', '.join(have)}"))
        if dataset_info(cfg.dataset, cfg.dataset_options).classes is None:
            labelled = [n for n in DATASETS.names() if dataset_info(n).classes] + [
                "a folder with one sub-folder per class"]
            out.append(Finding("conflict", "conditional", f"dataset {cfg.dataset!r} has no "
                               "class labels", "use a labelled dataset ("
                               + ", ".join(labelled) + ") or remove conditional"))
    return out


def data_findings(cfg: RunConfig, image_size: int | None) -> list[Finding]:
    """What the dataset cannot give this run: the model's resolution without upsampling,
    the split a FID protocol scores against (labels: model_findings)."""
    if cfg.dataset not in DATASETS or data_kind(cfg.dataset) != "images":
        return []
    info, out = dataset_info(cfg.dataset, cfg.dataset_options), []
    if image_size is not None and info.max_size is not None and image_size > info.max_size:
        out.append(Finding("conflict", "model",
                           f"model {cfg.model!r} needs {image_size}x{image_size} images and "
                           f"dataset {cfg.dataset!r} gives at most {info.max_size}x"
                           f"{info.max_size} (upsampling is refused: it would score blur)",
                           "use a model of that resolution or less, or, for a folder, "
                           f"resolution: {image_size} or more"))
    protocol = PROTOCOLS.get(cfg.fid_protocol) if cfg.fid_protocol in PROTOCOLS else None
    return out + ([] if protocol is None else protocol_findings(cfg, protocol, info))


def serves(protocol: FidProtocol, info: DataInfo) -> bool:
    """The dataset has the protocol's split and, where it generates as many images as that
    split has, declares how many (metric names carry the count before any data is read)."""
    return protocol.split in info.splits and (
        protocol.n_gen is not None or split_size(protocol.split, info) is not None)


def protocol_findings(cfg: RunConfig, protocol: FidProtocol, info: DataInfo) -> list[Finding]:
    """A named FID protocol the dataset cannot serve is a conflict (the suggestion: the
    datasets it can, and the current protocols this one can); a deprecated name a caveat."""
    name, split, out = cfg.fid_protocol, protocol.split, []
    if not serves(protocol, info):
        datasets = [n for n in DATASETS.names() if serves(protocol, dataset_info(n))]
        others = [n for n in PROTOCOLS.names(deprecated="") if serves(PROTOCOLS[n], info)]
        why = (f"scores against the {split} split, and dataset {cfg.dataset!r} has none"
               if split not in info.splits else
               f"generates as many images as the {split} split has, and dataset "
               f"{cfg.dataset!r} does not declare how many that is (metric names carry it)")
        out.append(Finding("conflict", "fid_protocol", f"fid_protocol {name!r} {why}",
                           f"use it with {', '.join(datasets)}"
                           + (f", or fid_protocol: {' or '.join(others)}" if others else "")))
    if protocol.deprecated:
        out.append(Finding("caveat", "fid_protocol",
                           f"fid_protocol {name!r} is deprecated: {protocol.deprecated}"))
    return out


def _eval_work(cfg: RunConfig, where: Callable[..., str]) -> list[str]:
    """Evaluation is work too: evaluations x samples per evaluation against one limit. A
    named protocol's count is the one generated (mimicry: 50k, whatever fid_samples says)."""
    known = cfg.fid_protocol is None or (cfg.fid_protocol in PROTOCOLS
                                         and cfg.dataset in DATASETS)
    n_gen = generated_count(cfg) if known else cfg.fid_samples
    per = cfg.eval_samples + (n_gen if cfg.image_metrics else 0)
    evals, total = limits.eval_work(cfg.steps, cfg.eval_every, per, cfg.eval_repeats)
    if total <= limits.MAX_EVAL_WORK:
        return []
    field = "eval_every" if cfg.eval_every else "eval_samples"
    return [f"{where(field)}: {field}: {evals:,} evaluations x {per:,} samples = {total:,} "
            f"samples to generate, over the limit of {limits.MAX_EVAL_WORK:,}; evaluate less "
            "often (a larger eval_every) or with fewer samples"]


def fd_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """(field, message) for `fd`'s network and weights file, before any training."""
    out = []
    if cfg.fd_features not in EXTRACTORS:
        out.append(("fd_features", EXTRACTORS.unknown_message(cfg.fd_features)))
    if cfg.fd_weights is not None:
        try:  # a FIFO would hang the hash and the load: refused here, with the others
            regular_file(cfg.fd_weights, f"{cfg.fd_features} weights file")
        except NotAFileError as e:
            why = str(e).split(": ", 1)[-1]
            out.append(("fd_weights", f"{cfg.fd_weights} is not a file ({why}); or leave "
                        "fd_weights out for the network's own source"))
    return out


def validate(cfg: RunConfig, path: Path | str = "<config>", node: yaml.Node | None = None,
             prefix: tuple[Any, ...] = (), conflicts: bool = True,
             place: Callable[[str], tuple[Any, ...]] | None = None) -> RunConfig:
    """Raise ConfigError (all problems at once) or return cfg. Caveats do not raise.

    `place(field)`: where a top-level field was written (a sweep's axis value), else
    `prefix + (field,)`. `conflicts=False`: names and parameters only."""
    cfg = cfg.model_copy(deep=True)
    at = place or (lambda f: (*prefix, f))
    where = lambda *loc: f"{path}:{line_of(node, *at(loc[0]), *loc[1:])}"  # noqa: E731

    def _schedule_at(key: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        # (where in the file, the field as written): under schedules:, or where it is
        # inline (`lr:`, `betas:`'s element, the trick's parameter; on a sweep's axis too)
        under = (*at("schedules"), key)
        if node is None or has_path(node, under):
            return under, ("schedules", key)
        first, *rest = written_at(key)
        return (*at(str(first)), *rest), (first, *rest)
    problems = []
    for field, reg in (("dataset", DATASETS), ("model", MODELS), ("loss", LOSSES)):
        try:
            reg.get(getattr(cfg, field))
        except UnknownNameError as e:
            problems.append(f"{where(field)}: {field}: {e}")
    if cfg.fid_protocol is not None and cfg.fid_protocol not in PROTOCOLS:
        problems.append(f"{where('fid_protocol')}: fid_protocol: "
                        f"{PROTOCOLS.unknown_message(cfg.fid_protocol)}")
    if {"fd", "dc"} & set(cfg.image_metrics):
        problems += [f"{where(f)}: {f}: {msg}" for f, msg in fd_problems(cfg)]
    if cfg.dataset in DATASETS:
        problems += _dataset_options(cfg, path, node, at, where)
    if cfg.model in MODELS:
        problems += _model_options(cfg, path, node, at, where)
    known = image_metric_entries()
    for m in cfg.image_metrics:  # by name: the list is in canonical order, not the file's
        if m not in known:
            problems.append(f"{where('image_metrics')}: image_metrics: "
                            f"{unknown_entry_message(m)}")
    problems += [f"{where('extra_metrics')}: extra_metrics: {msg}"
                 for msg in extra_metric_problems(cfg)]
    if cfg.image_metrics and cfg.dataset in DATASETS and data_kind(cfg.dataset) != "images":
        problems.append(f"{where('image_metrics')}: image_metrics: dataset {cfg.dataset!r} is "
                        f"{data_kind(cfg.dataset)}, and FID/KID/IS/PRC need images; remove "
                        "image_metrics (2-D data is scored by modes, hq and reverse_kl)")
    for name, params in cfg.tricks.items():
        try:
            trick_cls = TRICKS.get(name)
        except UnknownNameError as e:
            problems.append(f"{where('tricks', name)}: tricks.{name}: {e}")
            continue
        if not isinstance(params, dict):
            problems.append(f"{where('tricks', name)}: tricks.{name}: expected a mapping of "
                            f"parameters or nothing, got {params!r}")
            continue
        try:
            # Store every parameter, typed: '{}' and '{weight: 10}' are the same run.
            cfg.tricks[name] = trick_cls.Params.model_validate(params).model_dump(mode="json")
        except ValidationError as e:
            problems.append(explain(e, path, node, prefix=(*prefix, "tricks", name),
                                    fields=list(trick_cls.Params.model_fields)))
    for key, msg in schedule_problems(cfg):
        loc, field = _schedule_at(key)
        problems.append(f"{path}:{line_of(node, *loc)}: {'.'.join(map(str, field))}: {msg}")
    problems += _eval_work(cfg, where)
    if problems:
        raise ConfigError(cap_lines(problems))
    cfg = resolve_defaults(cfg)
    found = [f for f in check_run(cfg) if f.kind == "conflict"] if conflicts else []
    if found:
        lines = [
            f"{where('tricks', f.trick) if f.trick in cfg.tricks else where(f.trick)}: "
            f"conflict: {f}"
            for f in found
        ]
        raise ConfigError(cap_lines(lines))
    return cfg


def schedulable(trick: str) -> list[str]:
    """The parameters of trick `trick` a schedule may move: its float ones that it reads
    where they act (not in its `fixed_params`)."""
    cls = TRICKS.get(trick)
    return [k for k, f in cls.Params.model_fields.items()
            if f.annotation is float and k not in cls.fixed_params]


def schedule_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """(key, message) for each schedule whose parameter does not exist or may not move, or
    whose end is not a valid value of it."""
    problems = []
    for key, s in cfg.schedules.items():
        if key == "lr":
            if not 0 <= s.end <= limits.MAX_LR:
                problems.append((key, f"schedule end {s.end:g} is not a learning rate; give "
                                 f"one in [0, {limits.MAX_LR:g}]"))
            continue
        if key in RUN_PARAMS:  # an Adam beta
            if not 0 <= s.end < 1:  # a trick that leaves no betas to move: a conflict
                problems.append((key, f"schedule end {s.end:g} is not an Adam beta; give one "
                                 "in [0, 1)"))
            continue
        trick, _, param = key.partition(".")
        if trick not in cfg.tricks or trick not in TRICKS or not param:
            tricks = ", ".join(f"{t}.{p}" for t in sorted(cfg.tricks) if t in TRICKS
                               for p in schedulable(t))
            run = ", ".join(RUN_PARAMS)
            problems.append((key, f"{key!r} is not a parameter of this run; {run} (Adam's "
                             f"betas) and the float parameters of its tricks can be scheduled"
                             f"{f' ({tricks})' if tricks else ''}"))
            continue
        cls = TRICKS.get(trick)
        if param not in schedulable(trick):
            why = ("it is read only when the run is built" if param in cls.fixed_params
                   else "only float parameters can be" if param in cls.Params.model_fields
                   else "it has no such parameter")
            can = schedulable(trick)
            close = closest(param, can)
            hint = f"; did you mean {trick}.{close}?" if close else ""
            problems.append((key, f"cannot be scheduled: {why}{hint} (schedulable parameters "
                             f"of {trick}: {', '.join(can) or 'none'})"))
            continue
        try:
            cls.Params.model_validate({**cfg.tricks[trick], param: s.end})
        except ValidationError as e:
            msg = e.errors()[0]["msg"].removeprefix("Value error, ")
            problems.append((key, f"schedule end {s.end:g}: {msg}"))
    return problems


def level_schedule_problems(trick: str, level: dict[str, Any]) -> list[tuple[tuple, str]]:
    """(where in the level, message) for the schedules written inline in a sweep's trick
    level (`r1: [off, {gamma: {start: 10, end: 1}}]`), whose start its Params have passed."""
    if not any(map(is_inline, level.values())):
        return []
    try:
        cfg = RunConfig.model_validate({"tricks": {trick: level}})
    except ValidationError as e:
        return [((str(err["loc"][1]).partition(".")[2], *err["loc"][2:]),
                 err["msg"].removeprefix("Value error, ")) for err in e.errors()]
    return [((key.partition(".")[2],), msg) for key, msg in schedule_problems(cfg)]


def extra_metric_problems(cfg: RunConfig) -> list[str]:
    """Each `extra_metrics:` name a metric computed on request for this run's data kind."""
    if not cfg.extra_metrics:  # every run is validated, most ask for none
        return []
    kind = data_kind(cfg.dataset) if cfg.dataset in DATASETS else None
    offered = [n for n in METRICS.names(on_request=True)
               if kind is None or METRICS.get(n).data_kind == kind]
    always = available_metrics(kind, cfg) if kind is not None else {}
    return [f"{m!r} " + ("is computed at every evaluation already; remove it" if m in always
                         else f"is not a metric computed on request for {kind or 'this'} data"
                         + did_you_mean(m, offered))
            + f" (on request here: {', '.join(offered) or 'none'})"
            for m in cfg.extra_metrics if m not in offered]


def _dataset_options(cfg: RunConfig, path, node, at, where) -> list[str]:
    """Check (and fill the defaults of, so equal runs have equal keys) a dataset's options."""
    model = dataset_options_model(cfg.dataset)
    if model is None:
        if cfg.dataset_options:
            return [f"{where('dataset')}: dataset: {cfg.dataset!r} takes no options (got "
                    f"{', '.join(sorted(cfg.dataset_options))}); write dataset: {cfg.dataset}"]
        return []
    try:
        cfg.dataset_options = model.model_validate(cfg.dataset_options).model_dump(mode="json")
    except ValidationError as e:
        loc = at("dataset")
        return [explain(e, path, node, prefix=loc, fields=list(model.model_fields))]
    return []


def _model_options(cfg: RunConfig, path, node, at, where) -> list[str]:
    """Check (and fill the defaults of) a model's options, as a dataset's above."""
    spec = MODELS.get(cfg.model)
    try:
        cfg.model_options = spec.checked_options(cfg.model_options)
    except ValidationError as e:
        fields = list(spec.options.model_fields)
        return [explain(e, path, node, prefix=at("model"), fields=fields,
                        unknown=f"unknown option of model {cfg.model!r} (its options: "
                        f"{', '.join(fields)})")]
    except ValueError as e:  # options given to a model that takes none
        return [f"{where('model')}: {'.'.join(map(str, at('model')))}: {e}"]
    return []


def conflict_error(cfg: RunConfig) -> None:
    """ConfigError if a config's tricks conflict (for library callers of train())."""
    found = [f for f in check_run(cfg) if f.kind == "conflict"]
    if found:
        raise ConfigError("; ".join(f"conflict: {f}" for f in found))


def resolve_defaults(cfg: RunConfig) -> RunConfig:
    """Fill the model-dependent defaults (z_dim, d_norm) so runs record what actually ran."""
    model = MODELS.get(cfg.model)
    widths = model.widths or (None, None)
    return cfg.model_copy(update={
        "z_dim": cfg.z_dim or model.z_dim,
        "d_norm": cfg.d_norm or model.d_norm,
        "g_width": cfg.g_width or widths[0],
        "d_width": cfg.d_width or widths[1],
    })


def caveats(cfg: RunConfig) -> list[Finding]:
    return [f for f in check_run(cfg) if f.kind == "caveat"]


def trick_conditions(name: str) -> list[tuple[str, Finding]]:
    """What a trick's own check() says across the settings it can see, for `tricks list`.

    Probes one setting at a time from a neutral base (a 2-D pair from `probe_pair`, ns, no D
    norm), so the listing is derived from the same declarations that reject configs, never
    written twice.
    """
    # A long run is the neutral base; steps=1000 shows time-constant caveats (Trick.findings).
    dataset, model = probe_pair("points")
    base = RunConfig(dataset=dataset, model=model, loss="ns", d_norm="none", steps=100_000,
                     tricks={name: {}})
    variants = [("", base), ("steps=1000", base.model_copy(update={"steps": 1000}))]
    variants += [(f"loss={loss}", base.model_copy(update={"loss": loss}))
                 for loss in LOSSES.names()]
    variants += [(f"d_norm={n}", base.model_copy(update={"d_norm": n}))
                 for n in ("batch", "layer", "none")]
    try:
        images, image_model = probe_pair("images")
        variants.append(("image data", base.model_copy(update={"dataset": images,
                                                                "model": image_model})))
    except ValueError:  # no image data registered: nothing to probe
        pass
    trick = TRICKS.get(name)()
    seen, out = set(), []
    for cond, cfg in variants:
        for f in trick.findings(cfg):
            key = (f.kind, f.message)
            if key not in seen:
                seen.add(key)
                out.append((cond or "always", f))
    return out


def pair_findings(name: str, dataset: str | None = None, model: str | None = None,
                  loss: str = "ns") -> dict[str, list[str]]:
    """The tricks `name` conflicts (or has a caveat) with as a pair in one setting that it
    has neither with alone: {"conflict": [...], "caveat": [...]} (what `tricks show` adds to
    the trick's own findings; the same check() as `pair_matrix`)."""
    dataset = dataset or probe_pair("points")[0]
    model = model or probe_pair(data_kind(dataset))[1]

    def kinds(tricks: dict) -> set[str]:
        cfg = RunConfig(dataset=dataset, model=model, loss=loss, tricks=tricks)
        return {f.kind for f in check_run(cfg)}

    alone = kinds({name: {}})
    out: dict[str, list[str]] = {"conflict": [], "caveat": []}
    for other in TRICKS.names():
        if other == name:
            continue
        both = kinds({name: {}, other: {}}) - alone - kinds({other: {}})
        for kind in ("conflict", "caveat"):
            if kind in both:
                out[kind].append(other)
                break
    return out


def pair_matrix(dataset: str | None = None, model: str | None = None,
                loss: str = "ns") -> tuple[list[str], dict[tuple[str, str], str]]:
    """Compatibility of every pair of tricks (and each alone, on the diagonal) in one setting.

    'conflict' / 'caveat' / 'ok', from the same check() that sweep expansion uses to drop
    cells, so `ganbench tricks matrix` and the planner cannot disagree.
    """
    dataset = dataset or probe_pair("points")[0]
    model = model or probe_pair(data_kind(dataset))[1]
    names = TRICKS.names()
    out: dict[tuple[str, str], str] = {}
    for i, a in enumerate(names):
        for b in names[i:]:
            cfg = RunConfig(dataset=dataset, model=model, loss=loss, tricks={a: {}, b: {}})
            kinds = {f.kind for f in check_run(cfg)}
            verdict = "conflict" if "conflict" in kinds else "caveat" if kinds else "ok"
            out[(a, b)] = out[(b, a)] = verdict
    return names, out
