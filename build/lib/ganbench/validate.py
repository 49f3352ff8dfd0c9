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

from ganbench.config import ConfigError, RunConfig, explain, line_of
from ganbench.data import DATASETS, data_kind
from ganbench.data.base import dataset_classifier
from ganbench.losses import LOSSES
from ganbench.models import MODELS
from ganbench.registry import UnknownNameError
from ganbench.tricks import TRICKS, Finding, TrickStack
from ganbench.yamlfile import cap_lines


def check_run(cfg: RunConfig) -> list[Finding]:
    """All findings for a config whose names are valid: model/data fit, then each trick."""
    cfg = resolve_defaults(cfg)
    out = []
    model = MODELS.get(cfg.model)
    if model.data_kind != data_kind(cfg.dataset):
        out.append(
            Finding(
                "conflict",
                "model",
                f"model {cfg.model!r} is for {model.data_kind} but dataset {cfg.dataset!r} "
                f"is {data_kind(cfg.dataset)}",
                "use model: mlp for 2-D data, dcgan28 or dcgan64 for images",
            )
        )
    wanted = [m for m in cfg.image_metrics if m in ("labels", "cis")]
    if wanted and dataset_classifier(cfg.dataset) is None:
        labelled = [n for n in DATASETS.names() if dataset_classifier(n)]
        out.append(Finding("conflict", "image_metrics",
                           f"image_metrics {wanted} need a dataset ganbench's classifier "
                           f"labels, not {cfg.dataset!r}",
                           f"use them with {', '.join(labelled)}"))
    return out + TrickStack.from_config(cfg).check(cfg)


def validate(cfg: RunConfig, path: Path | str = "<config>", node: yaml.Node | None = None,
             prefix: tuple[Any, ...] = (), conflicts: bool = True,
             place: Callable[[str], tuple[Any, ...]] | None = None) -> RunConfig:
    """Raise ConfigError (all problems at once) or return cfg. Caveats do not raise.

    `place(field)`: where a top-level field was written (a sweep's axis value), else
    `prefix + (field,)`. `conflicts=False`: names and parameters only."""
    cfg = cfg.model_copy(deep=True)
    at = place or (lambda f: (*prefix, f))
    where = lambda *loc: f"{path}:{line_of(node, *at(loc[0]), *loc[1:])}"  # noqa: E731
    problems = []
    for field, reg in (("dataset", DATASETS), ("model", MODELS), ("loss", LOSSES)):
        try:
            reg.get(getattr(cfg, field))
        except UnknownNameError as e:
            problems.append(f"{where(field)}: {field}: {e}")
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


def conflict_error(cfg: RunConfig) -> None:
    """ConfigError if a config's tricks conflict (for library callers of train())."""
    found = [f for f in check_run(cfg) if f.kind == "conflict"]
    if found:
        raise ConfigError("; ".join(f"conflict: {f}" for f in found))


def resolve_defaults(cfg: RunConfig) -> RunConfig:
    """Fill the model-dependent defaults (z_dim, d_norm) so runs record what actually ran."""
    model = MODELS.get(cfg.model)
    return cfg.model_copy(update={
        "z_dim": cfg.z_dim or model.z_dim,
        "d_norm": cfg.d_norm or model.d_norm,
    })


def caveats(cfg: RunConfig) -> list[Finding]:
    return [f for f in check_run(cfg) if f.kind == "caveat"]


def trick_conditions(name: str) -> list[tuple[str, Finding]]:
    """What a trick's own check() says across the settings it can see, for `tricks list`.

    Probes one setting at a time from a neutral base (ring8 / mlp / ns / no D norm), so the
    listing is derived from the same declarations that reject configs, never written twice.
    """
    # A long run is the neutral base; steps=1000 shows time-constant caveats (Trick.findings).
    base = RunConfig(dataset="ring8", model="mlp", loss="ns", d_norm="none", steps=100_000,
                     tricks={name: {}})
    variants = [("", base), ("steps=1000", base.model_copy(update={"steps": 1000}))]
    variants += [(f"loss={loss}", base.model_copy(update={"loss": loss}))
                 for loss in LOSSES.names()]
    variants += [(f"d_norm={n}", base.model_copy(update={"d_norm": n}))
                 for n in ("batch", "layer", "none")]
    variants.append(("image data", base.model_copy(update={"dataset": "mnist",
                                                            "model": "dcgan28"})))
    trick = TRICKS.get(name)()
    seen, out = set(), []
    for cond, cfg in variants:
        for f in trick.findings(cfg):
            key = (f.kind, f.message)
            if key not in seen:
                seen.add(key)
                out.append((cond or "always", f))
    return out


def pair_matrix(dataset: str = "ring8", model: str | None = None,
                loss: str = "ns") -> tuple[list[str], dict[tuple[str, str], str]]:
    """Compatibility of every pair of tricks (and each alone, on the diagonal) in one setting.

    'conflict' / 'caveat' / 'ok', from the same check() that sweep expansion uses to drop
    cells, so `ganbench tricks matrix` and the planner cannot disagree.
    """
    model = model or ("mlp" if data_kind(dataset) == "points" else "dcgan28")
    names = TRICKS.names()
    out: dict[tuple[str, str], str] = {}
    for i, a in enumerate(names):
        for b in names[i:]:
            cfg = RunConfig(dataset=dataset, model=model, loss=loss, tricks={a: {}, b: {}})
            kinds = {f.kind for f in check_run(cfg)}
            verdict = "conflict" if "conflict" in kinds else "caveat" if kinds else "ok"
            out[(a, b)] = out[(b, a)] = verdict
    return names, out
