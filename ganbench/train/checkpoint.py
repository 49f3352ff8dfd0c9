"""Training checkpoints: a retried run resumes from its last checkpoint, not from step 0.

A checkpoint is one plain dict (tensors, dicts, lists, numbers, strings): everything that
affects later steps (nets, optimisers, trick state, every RNG the run draws from) and the
loop's own bookkeeping, so the resumed run is bit-identical to an uninterrupted one. It is
self-describing: a format version and the run config it was written for, and resuming
under another config is refused rather than silently mixing two runs.

On disk a checkpoint is one header line holding the sha256 of the rest, then torch.save's
bytes; a file whose bytes do not match (flipped bits, a cut-off upload) is refused before
torch reads it, and the loader falls back to an older checkpoint or step 0. Tensors are read
with weights_only=True: loading never runs pickled code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from ganbench.config import RunConfig
from ganbench.safefile import NotAFileError, load_reason, read_capped
from ganbench.tricks.base import TrickStack

FORMAT_VERSION = 1

MAGIC = b"GANBENCH-CHECKPOINT sha256="
STAGING_GRACE = 600  # seconds: a staging file older than this was left by a killed writer


class CorruptCheckpointError(ValueError):
    """The checkpoint's bytes do not match its checksum (or it has none)."""


def dumps(state: dict[str, Any]) -> bytes:
    """The checkpoint file's bytes: the checksum header line, then torch.save's output."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def loads(data: bytes, name: str) -> dict[str, Any]:
    """Verify and read `dumps` output; CorruptCheckpointError names `name` and the damage."""
    head, _, payload = data.partition(b"\n")
    if not head.startswith(MAGIC):
        raise CorruptCheckpointError(f"{name}: no checksum header (damaged, or written "
                                     "before checkpoints were checksummed)")
    want, got = head[len(MAGIC):].decode("ascii", "replace"), hashlib.sha256(payload).hexdigest()
    if got != want:
        raise CorruptCheckpointError(f"{name}: sha256 {got[:12]}… does not match the "
                                     f"recorded {want[:12]}… (the file is damaged)")
    # map to CPU because RNG states must be CPU tensors anyway
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a refused global, a damaged zip: one line each
        raise CorruptCheckpointError(f"{name}: its payload is refused by the weights-only "
                                     f"load ({load_reason(e)})") from None
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"{name}: its payload is a {type(state).__name__}, not a "
                                     "checkpoint mapping")
    return state


def payload_problem(state: Any) -> str | None:
    """What a verified payload lacks to be a checkpoint (a valid header and sha256 say
    nothing about what was written under them), or None."""
    if not isinstance(state, dict):
        return f"its payload is a {type(state).__name__}, not a checkpoint mapping"
    missing = [k for k in ("format", "config") if k not in state]
    if missing:
        return f"its payload has no {' or '.join(repr(k) for k in missing)}"
    if not isinstance(state["config"], str):
        return f"its 'config' is a {type(state['config']).__name__}, not the run config"
    return None


class Checkpointer(Protocol):
    every: int  # steps between checkpoints; 0 = never save
    corrupt: list[str]  # damaged checkpoints load() skipped, one line each (tagged on the run)

    def load(self) -> dict[str, Any] | None:
        """The latest saved state, or None when there is none."""
        ...

    def save(self, state: dict[str, Any], step: int) -> None:
        """Store `state`, taken after `step` training steps, replacing the previous one.
        Its tensors share storage with the live run: serialise or copy them now."""
        ...


class FileCheckpointer:
    """One checkpoint file, replaced atomically: written to a temporary file in the same
    folder, then renamed over the old one, so a crash mid-write leaves the previous
    checkpoint intact (a rename within one file system is atomic)."""

    def __init__(self, path: Path | str, every: int) -> None:
        if every < 0:
            raise ValueError(f"checkpoint every must be >= 0 steps (0 = never), got {every}")
        self.path = Path(path)
        self.every = every
        self.corrupt: list[str] = []

    def load(self) -> dict[str, Any] | None:
        self._clear_staging()
        if not self.path.exists():
            return None
        try:
            return loads(read_capped(self.path, "checkpoint"), str(self.path))
        except (CorruptCheckpointError, NotAFileError) as e:  # no older one: step 0
            self.corrupt.append(str(e))
            return None

    def _clear_staging(self, older_than: float = STAGING_GRACE) -> None:
        """Remove staging files a killed writer left (a SIGKILL mid-save cannot clean up):
        this run's own, older than any save takes."""
        now = time.time()
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            try:
                if now - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
            except OSError:  # gone meanwhile, or not ours to remove
                pass

    def save(self, state: dict[str, Any], step: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(dumps(state))
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the rename makes it current
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def comparable_config(cfg_json: str) -> dict[str, Any]:
    """The parts of a config (as JSON) that decide what a run computes."""
    out = json.loads(cfg_json)
    for key in RunConfig.not_identity():  # the worker sets device and data_root per machine
        out.pop(key, None)
    # A field added since the checkpoint was written computed what its default computes.
    defaults = json.loads(RunConfig().model_dump_json(exclude=set(RunConfig.not_identity())))
    out = {**{k: v for k, v in defaults.items() if k not in out}, **out}
    # Tricks as run keys see them (TrickStack.identity): a checkpoint that stored a trick's
    # params in an older form resumes the run whose params resolve to the same values.
    try:
        out["tricks"] = TrickStack.from_config(RunConfig.model_validate(out)).identity()
    except ValueError:  # a trick or setting this code cannot read: compare as written
        pass
    return out


def check_compatible(state: dict[str, Any], cfg: RunConfig) -> None:
    """Raise ValueError unless `state` is a checkpoint this code can resume for `cfg`
    (both resolved: model defaults filled in)."""
    problem = payload_problem(state)
    if problem:
        raise ValueError(f"the checkpoint is damaged ({problem}); delete it to start the run "
                         "afresh")
    version = state.get("format")
    if version != FORMAT_VERSION:
        raise ValueError(f"checkpoint format {version!r} is not the supported format "
                         f"{FORMAT_VERSION}; delete the checkpoint to start the run afresh")
    saved, now = comparable_config(state["config"]), comparable_config(cfg.model_dump_json())
    if saved != now:
        keys = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
        diff = ", ".join(f"{k}: {saved.get(k)!r} in the checkpoint, {now.get(k)!r} now"
                         for k in keys)
        raise ValueError(f"the checkpoint was written for a different run config ({diff}); "
                         "resume with the original config or delete the checkpoint")


__all__ = ["FORMAT_VERSION", "Checkpointer", "CorruptCheckpointError", "FileCheckpointer",
           "check_compatible", "dumps", "loads"]
