"""Issue 27, class 8: a full disk while the report draws left a 0-byte PNG and an error line
that did not name the path. Figures are written whole or not at all, and the error names
the file."""

from __future__ import annotations

import errno

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ganbench.atomic import DiskFullError, save_figure  # noqa: E402
from ganbench.report import samples  # noqa: E402


def _full(*a, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_leaves_no_png_and_names_it(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = tmp_path / "curves.png"
    monkeypatch.setattr(fig, "savefig", _full)
    with pytest.raises(DiskFullError) as e:
        save_figure(fig, path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no 0-byte PNG, no staging file


def test_a_figure_is_written_whole(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = save_figure(fig, tmp_path / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_a_sample_grid_too(tmp_path, monkeypatch):
    import torchvision.utils

    monkeypatch.setattr(torchvision.utils, "save_image", _full)
    with pytest.raises(DiskFullError, match="samples.png"):
        samples.save_image_grid(torch.zeros(4, 3, 8, 8), tmp_path / "samples.png")
    assert list(tmp_path.iterdir()) == []
