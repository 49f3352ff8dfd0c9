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

    save_image(images.detach().cpu().float(), path, nrow=nrow, normalize=True,
               value_range=(-1, 1), padding=2)
    return path


def save_scatter(samples: torch.Tensor, modes: torch.Tensor, path: Path, title: str = "") -> Path:
    """samples (N, 2) as dots, true mode centres as red crosses, equal axes."""
    plt = _pyplot()
    s, m = samples.detach().cpu().numpy(), modes.detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.35, color="#1f77b4", label="generated")
    ax.scatter(m[:, 0], m[:, 1], s=60, marker="x", color="#d62728", label="true modes")
    span = max(abs(m).max() * 1.5, 1.0)
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
