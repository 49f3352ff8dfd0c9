"""Checksummed checkpoints: a damaged one is refused before torch reads it, and the run
falls back to the previous checkpoint (or step 0), tagged, ending as an uninterrupted run."""

from __future__ import annotations

import io
import zipfile

import pytest
import torch
from helpers.resume import Crash, exact

from ganbench.config import RunConfig
from ganbench.specs.run import validate
from ganbench.store.mlflow import MLflowStore
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, train
from ganbench.train.checkpoint import MAGIC, CorruptCheckpointError, FileCheckpointer, loads

EVERY = 10


def cfg_of(tmp_path) -> RunConfig:
    return validate(RunConfig(steps=40, batch_size=32, device="cpu", log_every=10,
                              eval_every=20, eval_samples=256, data_root=tmp_path))


def crash_at(step: int):
    def progress(p: Progress) -> None:
        if p.step == step:
            raise Crash(step)
    return progress


def flip_g_weights(data: bytes, n: int = 200) -> bytes:
    """Flip n bytes inside G's first weight tensor (the first storage torch.save writes)."""
    head, _, payload = data.partition(b"\n")
    zf = zipfile.ZipFile(io.BytesIO(payload))
    info = zf.getinfo(next(name for name in zf.namelist() if name.endswith("/data/0")))
    extra = int.from_bytes(payload[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + len(info.filename.encode()) + extra
    assert info.file_size >= n
    out = bytearray(payload)
    for i in range(start, start + n):
        out[i] ^= 0xFF
    return head + b"\n" + bytes(out)


def same_nets(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_flipped_bytes_are_a_loadable_checkpoint_without_the_checksum(tmp_path):
    """What the checksum guards against: torch.load itself takes the damaged weights."""
    ckpt = FileCheckpointer(tmp_path / "run.pt", EVERY)
    ckpt.save({"g": {"w": torch.arange(100, dtype=torch.float64)}}, 1)
    bad = flip_g_weights((tmp_path / "run.pt").read_bytes())
    damaged = torch.load(io.BytesIO(bad.partition(b"\n")[2]), weights_only=True)
    assert not torch.equal(damaged["g"]["w"], torch.arange(100, dtype=torch.float64))
    with pytest.raises(CorruptCheckpointError, match="sha256"):
        loads(bad, "run.pt")
    with pytest.raises(CorruptCheckpointError, match="no checksum header"):
        loads(bad.partition(b"\n")[2], "old.pt")
    assert (tmp_path / "run.pt").read_bytes().startswith(MAGIC)


def test_a_damaged_newest_mlflow_checkpoint_falls_back_to_the_previous_one(tmp_path):
    cfg = cfg_of(tmp_path)
    ref_tracker = MemoryTracker()
    ref = train(cfg, ref_tracker)
    store = MLflowStore(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = store.experiment("c", tmp_path / "artifacts")
    parent = store.parent_run(exp, "c")
    first = store.start_child(exp, parent, "attempt 1", {})
    with pytest.raises(Crash):  # saved at steps 10, 20, 30 (the last two kept), then killed
        train(cfg, MemoryTracker(), progress=crash_at(30),
              checkpoints=store.checkpointer(first.run_id, EVERY))
    newest = next((tmp_path / "artifacts").rglob("step_000000030.pt"))
    newest.write_bytes(flip_g_weights(newest.read_bytes()))

    retry = store.start_child(exp, parent, "attempt 2", {})
    ckpt = store.checkpointer(retry.run_id, EVERY, [first.run_id])
    tracker = MemoryTracker()
    resumed = train(cfg, tracker, checkpoints=ckpt)
    assert len(ckpt.corrupt) == 1 and "step_000000030.pt" in ckpt.corrupt[0]
    assert "resumed from step 20" in tracker.tags["checkpoint_corrupt"]
    assert exact(resumed.metrics) == exact(ref.metrics)
    assert same_nets(resumed.g, ref.g) and same_nets(resumed.d, ref.d)


def test_a_damaged_file_checkpoint_restarts_from_step_0(tmp_path):
    cfg = cfg_of(tmp_path)
    ref = train(cfg, MemoryTracker())
    path = tmp_path / "run.pt"
    with pytest.raises(Crash):
        train(cfg, MemoryTracker(), progress=crash_at(30),
              checkpoints=FileCheckpointer(path, EVERY))
    path.write_bytes(flip_g_weights(path.read_bytes()))
    tracker = MemoryTracker()
    ckpt = FileCheckpointer(path, EVERY)
    again = train(cfg, tracker, checkpoints=ckpt)
    assert "resumed from step 0" in tracker.tags["checkpoint_corrupt"]
    assert exact(again.metrics) == exact(ref.metrics) and same_nets(again.g, ref.g)
