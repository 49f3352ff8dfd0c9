"""Pictures of a generator's samples: an image grid, or a 2-D scatter against the true modes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# matplotlib and torchvision are imported where they draw: at module level they cost every
# process that imports this (the sweep controller, each worker) seconds before the first run.


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # library code never opens windows
    import matplotlib.pyplot as plt

    return plt


def save_image_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> Path:
    """images (N, C, H, W) in [-1, 1] -> PNG grid."""
    from torchvision.utils import save_image

    from ganbench.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:  # whole or nothing, a full disk named
        save_image(images.detach().cpu().float(), tmp, format="png", nrow=nrow,
                   normalize=True, value_range=(-1, 1), padding=2)
    return path


def scatter_window(samples, modes, mode_std: float | None) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) that shows the true modes and the bulk of the samples (their 0.5-99.5%
    quantiles), square: a fixed window left the panels of far-off generators empty."""
    import numpy as np

    samples = samples[np.isfinite(samples).all(axis=1)]  # a diverged G's NaNs show nowhere
    pts = np.concatenate([modes, np.quantile(samples, [0.005, 0.995], axis=0)]) \
        if len(samples) else modes
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, max((hi - lo).max() / 2, 3 * (mode_std or 0.0), 1e-3) * 1.15
    return centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half


def outside_data(samples, modes, mode_std: float | None):
    """Which samples lie outside the data's range: the modes' bounding box widened by four
    standard deviations (where real samples fall all but never)."""
    pad = 4 * (mode_std or 0.0)
    lo, hi = modes.min(0) - pad, modes.max(0) + pad
    return ((samples < lo) | (samples > hi)).any(axis=1)


def outside_label(out) -> str:
    """The share of samples drawn outside: a count where a percentage would round to 0%
    (3 of 2,000 printed "0% outside" beside three orange dots)."""
    n, total = int(out.sum()), len(out)
    return f"{n / total:.0%}" if n / max(total, 1) >= 0.005 else f"{n} of {total:,}"


def save_scatter(samples: torch.Tensor, modes: torch.Tensor, path: Path, title: str = "",
                 mode_std: float | None = None, size: float = 4.5, dpi: int = 120) -> Path:
    """samples (N, 2) as dots, true mode centres as red crosses, equal axes scaled to this
    panel's points; samples outside the data's range in orange, counted in the legend."""
    plt = _pyplot()
    import numpy as np

    s, m = samples.detach().cpu().numpy(), modes.detach().cpu().numpy()
    finite = np.isfinite(s).all(axis=1)
    if not finite.all():  # a diverged G: its non-finite samples are counted, not drawn
        title = f"{title} ({int((~finite).sum())} samples not finite)".strip()
        s = s[finite]
    out = outside_data(s, m, mode_std)
    fig, ax = plt.subplots(figsize=(size, size), dpi=dpi)
    ax.scatter(s[~out, 0], s[~out, 1], s=2, alpha=0.35, color="#1f77b4", label="generated")
    if out.any():
        ax.scatter(s[out, 0], s[out, 1], s=2, alpha=0.5, color="#ff7f0e",
                   label=f"outside the data ({outside_label(out)})")
    ax.scatter(m[:, 0], m[:, 1], s=60, marker="x", color="#d62728", label="true modes")
    x0, x1, y0, y1 = scatter_window(s, m, mode_std)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    from ganbench.atomic import save_figure

    save_figure(fig, path)  # whole or nothing, a full disk named
    return path


def evenly(items: list, k: int) -> list:
    """At most k items, evenly spread, the first and last kept."""
    if len(items) <= k:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def save_thumbnail(samples: torch.Tensor, modes: torch.Tensor, path: Path, title: str,
                   mode_std: float | None, side: int = 200) -> Path:
    """A small scatter drawn straight into pixels (Pillow): ~100x cheaper than matplotlib,
    which matters when every evaluation of every run draws one. Same window and colours as
    `save_scatter`."""
    import numpy as np
    from PIL import Image, ImageDraw

    s, m = samples.detach().cpu().numpy(), modes.detach().cpu().numpy()
    bad = int((~np.isfinite(s).all(axis=1)).sum())
    s = s[np.isfinite(s).all(axis=1)]
    x0, x1, y0, y1 = scatter_window(s, m, mode_std)
    top = 14  # room for the title

    def px(p):
        u = (p[:, 0] - x0) / (x1 - x0) * (side - 1)
        v = top + (y1 - p[:, 1]) / (y1 - y0) * (side - 1)
        return np.stack([u, v], 1).round().astype(int)

    img = Image.new("RGB", (side, side + top), "white")
    rgb = np.asarray(img).copy()
    out = outside_data(s, m, mode_std)
    for mask, colour in ((~out, (31, 119, 180)), (out, (255, 127, 14))):
        q = px(s[mask])
        keep = (q[:, 0] >= 0) & (q[:, 0] < side - 1) & (q[:, 1] >= top) & (q[:, 1] < side + top - 1)
        for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2x2 dots
            rgb[q[keep, 1] + dv, q[keep, 0] + du] = colour
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    for u, v in px(m):
        draw.line([(u - 3, v - 3), (u + 3, v + 3)], fill=(214, 39, 40), width=1)
        draw.line([(u - 3, v + 3), (u + 3, v - 3)], fill=(214, 39, 40), width=1)
    label = f"{title}  ({outside_label(out)} outside)" if out.any() else title
    if bad:
        label += f"  {bad} not finite"
    draw.text((3, 1), label, fill=(0, 0, 0))
    img.save(path)
    return path


def save_snapshots(snapshots: list, data, folder: Path, keep: int = 8) -> list[Path]:
    """`samples/step_NNNNNN.png` for (at most `keep` of) a run's evaluations over training."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for step, x in evenly(snapshots, keep):
        path = folder / f"step_{step:06d}.png"
        if data.kind == "points":
            save_thumbnail(x, data.modes, path, f"step {step}", data.mode_std)
        else:
            save_image_grid(x, path, nrow=4)
        out.append(path)
    return out
