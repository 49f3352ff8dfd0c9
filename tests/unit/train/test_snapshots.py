"""Samples over training: a snapshot at every evaluation, carried across a resume, drawn as
samples/step_N.png, and scatter panels scaled to their own points."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.config import RunConfig
from ganbench.outputs import write_run_folder
from ganbench.report.samples import evenly, outside_data, scatter_window
from ganbench.train import train
from ganbench.train.checkpoint import FileCheckpointer

CFG = dict(steps=300, batch_size=32, eval_every=100, log_every=50, eval_samples=400,
           device="cpu")


def test_one_snapshot_per_evaluation_and_resume_keeps_them(tmp_path):
    whole = train(RunConfig(**CFG))
    assert [s for s, _ in whole.snapshots] == [100, 200, 300]
    assert all(x.shape == (400, 2) and x.device.type == "cpu" for _, x in whole.snapshots)
    assert not torch.equal(whole.snapshots[0][1], whole.snapshots[-1][1])  # G learned
    class Killed(Exception):
        pass

    def kill_at_200(p):
        if p.step == 200:
            raise Killed

    ck = FileCheckpointer(tmp_path / "c.pt", every=100)
    with pytest.raises(Killed):  # killed after the checkpoint at step 200
        train(RunConfig(**CFG), progress=kill_at_200, checkpoints=ck)
    resumed = train(RunConfig(**CFG), checkpoints=FileCheckpointer(tmp_path / "c.pt", 100))
    assert resumed.resumed_from == 200
    assert [s for s, _ in resumed.snapshots] == [100, 200, 300]
    for (_, a), (_, b) in zip(whole.snapshots, resumed.snapshots, strict=True):
        assert torch.equal(a, b)


def test_run_folder_has_a_picture_per_evaluation(tmp_path):
    r = train(RunConfig(**CFG))
    out = write_run_folder(r.cfg, r, tmp_path / "run")
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step_000100.png", "step_000200.png", "step_000300.png"]


def test_evenly_keeps_ends_and_count():
    assert evenly(list(range(20)), 8)[0] == 0 and evenly(list(range(20)), 8)[-1] == 19
    assert len(evenly(list(range(20)), 8)) == 8 and evenly([1, 2], 8) == [1, 2]


def test_window_follows_far_off_samples_and_marks_them():
    modes = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    far = np.random.default_rng(0).normal(10.0, 0.1, size=(500, 2))  # all far from the data
    x0, x1, y0, y1 = scatter_window(far, modes, 0.01)
    assert x0 <= -1 and x1 >= 10 and y1 >= 10  # both the modes and the samples are shown
    assert outside_data(far, modes, 0.01).all()
    near = modes[np.arange(500) % 4] + 0.01 * np.random.default_rng(1).normal(size=(500, 2))
    assert outside_data(near, modes, 0.01).mean() < 0.01


def test_a_diverged_generators_pictures_are_drawn(tmp_path):
    from ganbench.data import DATASETS
    from ganbench.report.samples import save_scatter, save_snapshots

    data = DATASETS.get("ring8")(None)
    x = torch.randn(100, 2)
    x[:30] = float("nan")  # a diverged G's samples
    paths = save_snapshots([(10, x), (20, torch.full((50, 2), float("inf")))], data, tmp_path)
    assert [p.name for p in paths] == ["step_000010.png", "step_000020.png"]
    assert save_scatter(x, data.modes, tmp_path / "s.png", "t", data.mode_std).stat().st_size
