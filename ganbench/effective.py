"""A run's effective settings, and what differs between two cells' (their confounds). Pure.

`resolve(cfg)` applies the trick stack's hooks (optimizers, d_steps) as the training loop
does, so a trick level that changes a learning rate, the D steps per G step, or anything
else read here shows up without any trick being named. Each run records the result as MLflow
params `resolved.<setting>` (not part of its run key); `confounds(baseline, cell)` turns two
such records into phrases a report puts on the cell's row: a trick level that changes
anything besides itself is named there (DESIGN.md, statistics rules).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ganbench.config import RunConfig
from ganbench.schedules import describe as describe_schedule
from ganbench.schedules import describe_setting

PREFIX = "resolved."  # the MLflow params: resolved.lr_d, ... (runs frame: params.resolved.*)

# setting -> how a phrase names it; in phrase order. lr and betas pair D with G.
_NAMES = {
    "lr_d": "learning rate", "betas_d": "Adam betas", "batch_size": "batch size",
    "d_steps_per_g": "D steps per G step", "steps": "steps", "eval_every": "evaluation interval",
    "eval_samples": "evaluation samples", "fid_samples": "FID samples",
    "fid_real_samples": "FID real samples", "fid_protocol": "FID protocol",
    "lr_schedule": "learning-rate schedule", "betas_schedule": "Adam-betas schedule",
}
_PAIRED = {"lr_d": "lr_g", "betas_d": "betas_g"}


def resolve(cfg: RunConfig) -> dict[str, Any]:
    """The settings `cfg` trains and evaluates with, after its tricks' hooks (JSON values):
    lr_d, lr_g, betas_d, betas_g, batch_size, d_steps_per_g, steps, eval_every (0: at the
    end only), eval_samples; with an lr schedule, lr_schedule ("0.002→0"); with a schedule
    of Adam's betas, betas_schedule ("(0, 0.9→0.99)"); with image metrics also fid_samples,
    fid_real_samples (None: the whole split) and fid_protocol."""
    from ganbench.tricks.base import OptimSpec, TrickStack  # lazy: the tricks import torch

    stack = TrickStack.from_config(cfg)
    opt = stack.optimizers(OptimSpec(cfg.lr, cfg.lr, cfg.betas, cfg.betas))
    out: dict[str, Any] = {
        "lr_d": opt.d_lr, "lr_g": opt.g_lr,
        "betas_d": list(opt.d_betas), "betas_g": list(opt.g_betas),
        "batch_size": cfg.batch_size, "d_steps_per_g": stack.d_steps(), "steps": cfg.steps,
        "eval_every": cfg.eval_every, "eval_samples": cfg.eval_samples,
    }
    if "lr" in cfg.schedules:  # absent otherwise: runs recorded before schedules match
        out["lr_schedule"] = describe_schedule(cfg.lr, cfg.schedules["lr"])
    betas = describe_setting("betas", cfg.betas, cfg.schedules)
    if betas is not None:  # likewise
        out["betas_schedule"] = betas
    if cfg.image_metrics:
        out.update(fid_samples=cfg.fid_samples, fid_real_samples=cfg.fid_real_samples,
                   fid_protocol=cfg.fid_protocol)
    return out


def resolved_params(cfg: RunConfig) -> dict[str, Any]:
    """`resolve(cfg)` as MLflow params: `resolved.lr_d`, `resolved.lr_g`, ..."""
    return {PREFIX + k: v for k, v in resolve(cfg).items()}


def baseline_config(cfg: RunConfig, swept: Iterable[str]) -> RunConfig:
    """`cfg` with the swept tricks off (tricks always on stay): its cell's baseline, the
    all-off cell of the same axis values, whether or not the design runs it."""
    gone = set(swept)
    return cfg.model_copy(update={"tricks": {k: v for k, v in cfg.tricks.items()
                                             if k not in gone}})


def cell_confounds(cfg: RunConfig, swept: Iterable[str]) -> list[str]:
    """What the swept tricks of a cell change besides themselves, against its baseline."""
    return confounds(resolve(baseline_config(cfg, swept)), resolve(cfg))


def confounds(baseline: Mapping[str, Any], cell: Mapping[str, Any]) -> list[str]:
    """Phrases for the settings that differ, e.g. ["learning rate of D 2e-3 → 4e-3 and of G
    2e-3 → 1e-3", "D steps per G step 1 → 5"]; [] when none do.

    Either side is `resolve()`'s dict, or a run's record: keys may carry the `resolved.` or
    `params.resolved.` prefix and values may be MLflow's strings ("0.002", "[0.5, 0.999]",
    "None"). A setting missing on either side (a run recorded before these params) is not
    compared."""
    a, b = _settings(baseline), _settings(cell)
    out = []
    for key, name in _NAMES.items():
        parts = [(side, k) for side, k in (("D", key), ("G", _PAIRED.get(key)))
                 if k and k in a and k in b and not _same(a[k], b[k])]
        if not parts:
            continue
        if key not in _PAIRED:
            out.append(f"{name} {_show(a[key], key)} → {_show(b[key], key)}")
            continue
        said = [f"of {side} {_show(a[k], k)} → {_show(b[k], k)}" for side, k in parts]
        out.append(f"{name} " + " and ".join(said))
    return out


def describe(settings: Mapping[str, Any]) -> str:
    """`resolve()`'s dict on one line, e.g. "lr D 4e-3 G 1e-3 · betas (0.5, 0.999) · batch
    256 · D steps per G 1 · steps 2000 · eval end only, 2500 samples"."""
    s = _settings(settings)
    betas = (_show(s["betas_d"], "betas_d") if _same(s["betas_d"], s["betas_g"]) else
             f"D {_show(s['betas_d'], 'betas_d')} G {_show(s['betas_g'], 'betas_g')}")
    out = (f"lr D {_show(s['lr_d'], 'lr_d')} G {_show(s['lr_g'], 'lr_g')} · betas {betas} · "
           f"batch {s['batch_size']} · D steps per G {s['d_steps_per_g']} · steps {s['steps']}"
           f" · eval {_show(s['eval_every'], 'eval_every')}, {s['eval_samples']} samples")
    if "lr_schedule" in s:
        out += f" · lr schedule {s['lr_schedule']}"
    if "betas_schedule" in s:
        out += f" · betas schedule {s['betas_schedule']}"
    if "fid_samples" in s:
        out += (f" · FID {s['fid_samples']} vs {_show(s['fid_real_samples'], 'fid_real_samples')}"
                + (f" ({s['fid_protocol']})" if s.get("fid_protocol") else ""))
    return out


def _settings(d: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        for p in ("params." + PREFIX, PREFIX):
            if k.startswith(p):
                k = k[len(p):]
                break
        if not (isinstance(v, float) and math.isnan(v)):  # NaN: a runs frame's missing cell
            out[k] = _value(v)
    return out


def _value(v: Any) -> Any:
    """MLflow's string back to a number, list or None; anything else as it is."""
    if not isinstance(v, str):
        return v
    if v == "None":
        return None
    try:
        return json.loads(v)
    except ValueError:
        return v


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0)
    return x == y


def _show(v: Any, key: str) -> str:
    if key == "eval_every" and isinstance(v, int):
        return f"{v} steps" if v else "end only"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_show(x, key) for x in v) + ")"
    if isinstance(v, float) and v != 0 and not 1e-2 <= abs(v) < 1e5:
        mant, exp = f"{v:.2e}".split("e")  # 0.002 -> 2e-3, 0.0028284 -> 2.83e-3
        return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return "the whole split" if v is None and key == "fid_real_samples" else str(v)


__all__ = ["PREFIX", "baseline_config", "cell_confounds", "confounds", "describe", "resolve",
           "resolved_params"]
