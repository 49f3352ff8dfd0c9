"""ganbench's own digit / clothing classifiers: a small CNN trained once per labelled dataset
(MNIST, Fashion-MNIST) by ganbench itself, on the CPU in a minute or two, and cached.

Cache: <data root>/classifiers/<name>-cnn-v1.pt (a state dict saved with torch.save, read with
torch.load(weights_only=True) only), next to it <file>.sha256 (the file's hash, written after
the file) and <file>.json (test accuracy, data source, training recipe). A file whose hash is
missing or does not match is never loaded: it is retrained (under a file lock, so concurrent
workers train it once). What the labels feed is in metrics/labels.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.data.labelled import load_labelled
from ganbench.metrics.inception_weights import file_lock

VERSION = "v1"  # bump when the network or the recipe changes: old files are then ignored
EPOCHS, BATCH, LR, SEED = 3, 128, 3e-3, 0
# A test asserts MNIST's classifier reaches it (tests/unit/data/test_stacked_mnist.py).
MIN_ACCURACY = 0.99


class DigitCNN(nn.Module):
    """Two 5x5 conv blocks (28 -> 14 -> 7) and a 2-layer head: ~3M MACs per image."""

    def __init__(self, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 14
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 7
            nn.Flatten(), nn.Linear(2 * width * 49, 128), nn.ReLU(), nn.Linear(128, classes),
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, 1, 28, 28) in [-1, 1] -> (B, classes) logits
        return self.net(x)


def to_input(images: Tensor) -> Tensor:
    """uint8 images -> floats in [-1, 1], exactly as the GAN loaders scale them."""
    return images.float().div(127.5).sub(1.0)


@dataclass(frozen=True)
class Classifier:
    name: str  # the labelled dataset it was trained on
    net: DigitCNN
    sha256: str
    accuracy: float  # on that dataset's test split
    path: Path

    @torch.no_grad()
    def probs(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        """Softmax over classes for single-channel images (N, 1, 28, 28) in [-1, 1]."""
        dev = x.device
        net = self.net.to(dev).eval()
        return torch.cat([F.softmax(net(x[i:i + batch_size]), dim=1)
                          for i in range(0, len(x), batch_size)]) if len(x) else x.new_empty(0, 10)


def cache_path(root: Path, name: str) -> Path:
    return Path(root) / "classifiers" / f"{name}-cnn-{VERSION}.pt"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def accuracy(net: nn.Module, images: Tensor, labels: Tensor) -> float:
    with torch.no_grad():
        net.eval()
        pred = torch.cat([net(to_input(images[i:i + 1000])).argmax(1)
                          for i in range(0, len(images), 1000)])
    return float((pred == labels).float().mean())


def train_classifier(name: str, root: Path, epochs: int = EPOCHS) -> tuple[DigitCNN, dict]:
    """Train on the train split with Adam and a one-cycle rate; returns (net, metadata with
    the test accuracy). Deterministic given the data (own seed, fork_rng)."""
    train, test = load_labelled(name, root, "train"), load_labelled(name, root, "test")
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
        torch.manual_seed(SEED)
        net = DigitCNN()
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        steps = epochs * (len(train.images) // BATCH)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=max(steps, 1))
        gen = torch.Generator().manual_seed(SEED)
        net.train()
        for _ in range(epochs):
            perm = torch.randperm(len(train.images), generator=gen)
            for i in range(0, len(perm) - BATCH + 1, BATCH):
                idx = perm[i:i + BATCH]
                loss = F.cross_entropy(net(to_input(train.images[idx])), train.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    meta = {"dataset": name, "version": VERSION, "test_accuracy": accuracy(net, test.images,
                                                                           test.labels),
            "train_images": len(train.images), "test_images": len(test.images),
            "source": train.source, "epochs": epochs, "batch_size": BATCH, "lr": LR,
            "seed": SEED, "train_seconds": round(time.perf_counter() - t0, 1)}
    return net.eval(), meta


def _load_verified(path: Path) -> tuple[DigitCNN, str, dict] | None:
    """The cached net if its recorded sha256 matches the file's, else None (never loaded)."""
    sha_file, meta_file = Path(f"{path}.sha256"), Path(f"{path}.json")
    if not (path.is_file() and sha_file.is_file() and meta_file.is_file()):
        return None
    recorded = sha_file.read_text().split()
    want, got = (recorded[0] if recorded else ""), sha256_of(path)
    if want != got:
        warnings.warn(f"{path}: sha256 {got[:16]}... does not match the recorded "
                      f"{want[:16] or '<empty>'}...; not loading it, retraining", stacklevel=3)
        return None
    try:
        net = DigitCNN()
        net.load_state_dict(torch.load(path, weights_only=True))
        meta = json.loads(meta_file.read_text())
    except Exception as e:  # hash matched but the content is not ours: retrain
        warnings.warn(f"{path}: unreadable classifier ({e}); retraining", stacklevel=3)
        return None
    return net.eval(), got, meta


def get_classifier(name: str, root: Path) -> Classifier:
    """The cached classifier of `name`, trained now (once, under a lock) if missing or bad."""
    path = cache_path(root, name)
    found = _load_verified(path)
    if found is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(Path(f"{path}.lock")):
            found = _load_verified(path)  # another worker may have trained it meanwhile
            if found is None:
                net, meta = train_classifier(name, root)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
                with os.fdopen(fd, "wb") as f:
                    torch.save(net.state_dict(), f)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
                _write_text(Path(f"{path}.json"), json.dumps(meta, indent=1) + "\n")
                _write_text(Path(f"{path}.sha256"), f"{sha256_of(path)}  {path.name}\n")
                found = _load_verified(path)
    if found is None:
        raise RuntimeError(f"{path}: the classifier just written does not verify")
    net, sha, meta = found
    return Classifier(name, net, sha, float(meta["test_accuracy"]), path)
