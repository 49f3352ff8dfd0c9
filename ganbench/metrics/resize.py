"""How images reach Inception's 299x299 input: a protocol tag of every Inception metric
(`fid_resize:`), since the resize alone moves FID by points (Parmar, Zhang & Zhu 2022, "On
Aliased Resizing and Surprising Subtleties in GAN Evaluation": clean-fid).

- `tf-bilinear` (the default, "legacy"): torch-fidelity's own TF 1.x bilinear resize inside
  its extractor, as the TF Inception graph resized (no antialiasing);
- `clean`: clean-fid's "clean" mode: each channel of the uint8 image as float32, resized by
  PIL's bicubic filter (antialiased), clipped to [0, 255], not quantised (GaParmar/clean-fid
  cleanfid/resize.py: build_resizer("clean") = make_resizer("PIL", False, "bicubic",
  (299, 299)));
- `friendly`: StudioGAN's "friendly" resizer for InceptionV3_tf: the same per-channel float32
  PIL resize with the bilinear filter, not clipped (POSTECH-CVLab/PyTorch-StudioGAN
  src/utils/resize.py: make_resizer("PIL", "bilinear", (size, size))); the resize of
  StudioGAN's current benchmark (`fid_protocol: studiogan2023` with `fid_resize: friendly`).

The float image then enters torch-fidelity's Inception where its own resize would have run
(metrics/inception.py), so every other step is the network's as before.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

DEFAULT = "tf-bilinear"
# name -> (PIL filter, clip to [0, 255]); the default has none: the extractor's own resize
RESIZES: dict[str, tuple[int, bool] | None] = {
    "tf-bilinear": None,
    "clean": (Image.Resampling.BICUBIC, True),
    "friendly": (Image.Resampling.BILINEAR, False),
}


def pil_resize(x: torch.Tensor, size: int, name: str) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 (B, C, size, size), each channel resized by PIL in
    float32 ('F' mode) with the named resize's filter, on x's device."""
    resample, clip = RESIZES[name]
    arr = x.detach().cpu().numpy().astype(np.float32)
    out = np.empty((*arr.shape[:2], size, size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c], mode="F").resize((size, size), resample=resample)
            out[i, c] = np.asarray(img, dtype=np.float32)
    if clip:
        np.clip(out, 0, 255, out=out)
    return torch.from_numpy(out).to(x.device)
