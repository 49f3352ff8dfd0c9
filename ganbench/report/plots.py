"""Report figures (matplotlib, PNG at 200 dpi, 9-10 pt text: legible at a paper's column width).

Pure apart from writing the file: each function takes tables and a path and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # library code never opens windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ganbench.atomic import save_figure  # noqa: E402

DPI = 200
_STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
          "ytick.labelsize": 8, "legend.fontsize": 8}
BLUE, RED, GREY = "#1f77b4", "#d62728", "#7f7f7f"


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def curves(history: pd.DataFrame, path: Path, ylabel: str,
           order: list[str] | None = None) -> Path:
    """One panel per cell: the mean over seeds of `value` against `step`, with the band
    between the lowest and highest seed. history: columns cell, seed, step, value."""
    cells = [c for c in (order or []) if c in set(history["cell"])]
    cells += [c for c in dict.fromkeys(history["cell"]) if c not in cells]
    rows, cols = _grid(len(cells))
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols + 0.6, 1.6 * rows + 0.6),
                                 sharex=True, sharey=True, squeeze=False)
        for ax, cell in zip(axes.flat, cells, strict=False):
            h = history[history["cell"] == cell]
            wide = h.pivot_table(index="step", columns="seed", values="value")
            ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=BLUE,
                            alpha=0.25, linewidth=0)
            ax.plot(wide.index, wide.mean(axis=1), color=BLUE, linewidth=1.2)
            ax.set_title(cell, fontsize=8)
            ax.grid(alpha=0.3)
        for ax in axes.flat[len(cells):]:
            ax.set_visible(False)
        fig.supxlabel("training step", fontsize=9)
        fig.supylabel(ylabel, fontsize=9)
        fig.tight_layout()
        save_figure(fig, path, dpi=DPI)  # whole or nothing, a full disk named
    return path


def effects(tables: list[tuple[str, pd.DataFrame]], path: Path, xlabel: str,
            label_col: str = "term", value_col: str = "estimate") -> Path:
    """Horizontal bars of effects with their 95% CIs, one panel per table; significant
    effects (after Holm) in colour, the others grey. tables: (title, frame) pairs."""
    heights = [max(len(t), 1) for _, t in tables]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(len(tables), 1, squeeze=False,
                                 figsize=(6.0, 0.8 + 0.28 * sum(heights) + 0.5 * len(tables)),
                                 gridspec_kw={"height_ratios": heights})
        for ax, (title, t) in zip(axes[:, 0], tables, strict=True):
            y = np.arange(len(t))[::-1]
            est = t[value_col].to_numpy(dtype=float)
            err = np.vstack([est - t["ci_low"].to_numpy(dtype=float),
                             t["ci_high"].to_numpy(dtype=float) - est])
            colors = [(BLUE if e > 0 else RED) if s else GREY
                      for e, s in zip(est, t["significant"], strict=True)]
            ax.barh(y, est, color=colors, alpha=0.85, height=0.6)
            ax.errorbar(est, y, xerr=np.nan_to_num(err), fmt="none", ecolor="black",
                        elinewidth=1, capsize=3)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_yticks(y, [str(v) for v in t[label_col]])
            ax.set_title(title, loc="left")
            ax.grid(axis="x", alpha=0.3)
        axes[-1, 0].set_xlabel(xlabel)
        fig.tight_layout()
        save_figure(fig, path, dpi=DPI)  # whole or nothing, a full disk named
    return path


def sample_panel(images: list[tuple[str, Path]], path: Path) -> Path:
    """The final samples of one run per cell, side by side, titled by cell."""
    rows, cols = _grid(len(images))
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.2 * rows), squeeze=False,
                                 layout="constrained")
        for ax, (title, img) in zip(axes.flat, images, strict=False):
            ax.imshow(plt.imread(img))
            ax.set_title(title, fontsize=8)
        for ax in axes.flat:
            ax.axis("off")
        save_figure(fig, path, dpi=DPI)  # whole or nothing, a full disk named
    return path


def sample_strips(rows: list[tuple[str, list[tuple[int, Path]]]], path: Path) -> Path:
    """One row per cell: its run's pictures over training, left to right by step."""
    cols = max(len(pics) for _, pics in rows)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(len(rows), cols, figsize=(1.5 * cols + 0.4, 1.6 * len(rows)),
                                 squeeze=False, layout="constrained")
        for r, (label, pics) in enumerate(rows):
            for c, (_step, img) in enumerate(pics):
                axes[r, c].imshow(plt.imread(img))
                if c == 0:  # the pictures carry their own step
                    axes[r, c].set_title(label, fontsize=7, loc="left")
        for ax in axes.flat:
            ax.axis("off")
        save_figure(fig, path, dpi=DPI)  # whole or nothing, a full disk named
    return path


def across_tasks(acr, path: Path) -> Path:
    """Forest plot of report/across.py's Across: one row per trick level; per task, the mean
    paired Δ of normalised score (treated − baseline, higher is better) with its t interval;
    in black, the mean over tasks with its stratified-bootstrap interval."""
    terms = list(acr.table["term"])
    colours = plt.get_cmap("tab10")
    k = len(acr.tasks) + 1
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 0.9 + 0.22 * k * len(terms)))
        for i, term in enumerate(terms):
            y0 = (len(terms) - 1 - i) * (k + 1)
            rows = acr.effects[acr.effects["term"] == term]
            for j, task in enumerate(acr.tasks):
                r = rows[rows["task"] == task]
                if r.empty:
                    continue
                r = r.iloc[0]
                y = y0 + k - j
                ax.errorbar(r["delta"], y, xerr=[[r["delta"] - r["ci_low"]],
                                                  [r["ci_high"] - r["delta"]]]
                            if r["ci_low"] == r["ci_low"] else None, fmt="o", ms=4,
                            color=colours(j % 10), capsize=2, elinewidth=1,
                            label=task if i == 0 else None)
            s = acr.table.iloc[i]
            err = ([[s["delta"] - s["delta_low"]], [s["delta_high"] - s["delta"]]]
                   if s["delta_low"] == s["delta_low"] else None)
            ax.errorbar(s["delta"], y0 + k - len(acr.tasks), xerr=err, fmt="D", ms=5,
                        color="black", capsize=3, elinewidth=1.5,
                        label="mean over tasks" if i == 0 else None)
        ticks = [(len(terms) - 1 - i) * (k + 1) + k / 2 + 0.5 for i in range(len(terms))]
        ax.set_yticks(ticks, terms)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("Δ normalised score vs baseline (higher is better; 95% CI)")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        save_figure(fig, path, dpi=DPI)  # whole or nothing, a full disk named
    return path
