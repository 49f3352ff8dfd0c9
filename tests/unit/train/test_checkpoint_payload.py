"""Issue 27, class 7: checkpoints that verify (header and sha256) but do not fit: a payload
without the run config, a payload torch's weights-only load refuses. One line each, naming
the file; a run resuming from one starts at step 0 with the checkpoint_corrupt tag."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.scoring import from_checkpoint
from ganbench.tracking.base import MemoryTracker
from ganbench.train import train
from ganbench.train.checkpoint import (
    MAGIC,
    CorruptCheckpointError,
    FileCheckpointer,
    check_compatible,
    dumps,
    loads,
)


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def _signed(state) -> bytes:
    """A checkpoint file with a valid header over whatever torch.save wrote."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def test_a_refused_payload_is_one_line_naming_the_file():
    with pytest.raises(CorruptCheckpointError) as e:
        loads(_signed({"format": 1, "x": _Payload()}), "run.pt")
    msg = str(e.value)
    assert msg.startswith("run.pt: ") and "GLOBAL" in msg and "\n" not in msg
    assert "In PyTorch 2.6" not in msg  # not torch's explanation of weights_only


@pytest.mark.parametrize("state,needle", [({"format": 1, "g": {}}, "no 'config'"),
                                          ({"format": 1, "config": 5}, "'config' is a int")])
def test_a_payload_without_its_config_is_named_on_score(tmp_path, state, needle):
    p = tmp_path / "ck.pt"
    p.write_bytes(dumps(state))
    with pytest.raises(ValueError) as e:
        from_checkpoint(p)
    assert str(p) in str(e.value) and needle in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="the checkpoint is damaged"):
        check_compatible(state, RunConfig())


def test_a_payload_that_is_not_a_mapping():
    with pytest.raises(CorruptCheckpointError, match="a list, not a checkpoint mapping"):
        loads(_signed([1, 2]), "x.pt")


@pytest.mark.parametrize("state", [{"format": 1, "x": _Payload()}, {"format": 1, "g": {}}])
def test_a_run_resuming_from_one_restarts_and_says_so(tmp_path, state):
    ck = tmp_path / "run.pt"
    ck.write_bytes(_signed(state))
    tracker = MemoryTracker()
    cfg = RunConfig(dataset="ring8", steps=4, batch_size=8, log_every=2, device="cpu")
    result = train(cfg, tracker, checkpoints=FileCheckpointer(ck, every=2))
    assert result is not None
    tags = tracker.tags
    assert "checkpoint_corrupt" in tags and "step 0" in tags["checkpoint_corrupt"]


def test_a_staging_file_left_by_a_killed_save_is_cleared(tmp_path):
    ck = FileCheckpointer(tmp_path / "run.pt", every=1)
    old, fresh = tmp_path / ".run.pt.abc123.tmp", tmp_path / ".run.pt.def456.tmp"
    old.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(old, (1, 1))  # left long ago by a SIGKILLed writer
    other = tmp_path / ".other.pt.x.tmp"
    other.write_bytes(b"")
    os.utime(other, (1, 1))
    assert ck.load() is None
    assert not old.exists() and fresh.exists() and other.exists()
