"""Differentiable image augmentations (shared by DiffAugment and consistency regularisation).

All take and return (B, C, H, W) tensors with independent random parameters per sample,
and are differentiable in the input (gradients reach G through them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5)."""
    b = x.shape[0]
    r = lambda: torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5)
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (r() * 2) + mean_c
    mean_all = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean_all) * (r() + 0.5) + mean_all


def _grids(b: int, h: int, w: int, device) -> tuple[torch.Tensor, ...]:
    return torch.meshgrid(torch.arange(b, device=device), torch.arange(h, device=device),
                          torch.arange(w, device=device), indexing="ij")


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gb, gx, gy = _grids(b, h, w, x.device)
    gx = (gx + tx + 1).clamp(0, h + 1)
    gy = (gy + ty + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, H+2, W+2, C)
    return padded[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of side ratio * size in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gb, gx, gy = _grids(b, ch, cw, x.device)
    gx = (gx + ox - ch // 2).clamp(0, h - 1)
    gy = (gy + oy - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, device=x.device, dtype=x.dtype)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


AUGMENTS = {"color": color, "translation": translation, "cutout": cutout, "flip": hflip}


def augment_list(v: str) -> str:
    """A comma-separated list of AUGMENTS names, checked and tidied (DiffAugment's policy,
    ADA's pipeline)."""
    names = [p.strip() for p in v.split(",") if p.strip()]
    bad = [p for p in names if p not in AUGMENTS]
    if not names or bad:
        raise ValueError(f"unknown augmentation(s) {bad or v!r}; "
                         f"choose from {', '.join(AUGMENTS)}")
    return ",".join(names)
