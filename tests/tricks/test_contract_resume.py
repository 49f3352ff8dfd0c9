"""Resume contract for every registered trick: crash after a checkpoint, resume, and the run
is bit-identical to an uninterrupted one (results, nets, logged history).

A trick that keeps state across steps outside G's and D's state_dict must carry it through
`Trick.state_dict` / `load_state_dict`, or this fails for it. Parametrised from
`TRICKS.names()` at collection time (test-only tricks are registered only inside the tests
that ask for them, so they are not among these).
"""

from __future__ import annotations

import pytest
import torch
from helpers.resume import Crash, exact, history

from ganbench.config import ConfigError, RunConfig
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, train
from ganbench.train.checkpoint import FileCheckpointer
from ganbench.tricks import TRICKS
from ganbench.validate import validate

# Where a trick is exercised (as in test_contract.py): 2-D points first (fast);
# image-only tricks on tiny images.
# Tricks only for class-conditional runs in one (tiny labelled images, a narrow SNGAN-32).
CONTEXTS = ({"dataset": "ring8", "model": "mlp", "batch_size": 32},
            {"dataset": "tiny-images", "model": "dcgan28", "batch_size": 8},
            {"dataset": "tiny-labelled", "model": "sngan32", "conditional": True,
             "g_width": 2, "d_width": 4, "batch_size": 8})
LOSS_CANDIDATES = ("ns", "hinge")
STEPS, LOG_EVERY, EVERY, CRASH_AT = 6, 1, 2, 5  # saves at 2 and 4; the crash loses step 5


def real_tricks() -> list[str]:
    return TRICKS.names()


def config_for(name: str, data_root) -> RunConfig | None:
    """A tiny run using `name` in the first context and loss where it validates."""
    for ctx in CONTEXTS:
        for loss in LOSS_CANDIDATES:
            try:
                return validate(RunConfig(
                    **ctx, loss=loss, tricks={name: {}}, steps=STEPS, log_every=LOG_EVERY,
                    eval_every=3, eval_samples=256, device="cpu", data_root=data_root))
            except ConfigError:
                continue
    return None


def crash(p: Progress) -> None:
    if p.step == CRASH_AT:
        raise Crash


@pytest.mark.parametrize("name", real_tricks())
def test_resume_after_a_crash_is_identical(tmp_path, name):
    cfg = config_for(name, tmp_path)
    assert cfg is not None, f"{name} validates in none of {CONTEXTS} x {LOSS_CANDIDATES}"
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)

    path = tmp_path / "run.pt"
    with pytest.raises(Crash):
        train(cfg, tracker=MemoryTracker(), progress=crash,
              checkpoints=FileCheckpointer(path, EVERY))
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=FileCheckpointer(path, EVERY))

    assert resumed.resumed_from == 4
    assert (resumed.status, resumed.steps_done) == (reference.status, reference.steps_done)
    assert exact(resumed.metrics) == exact(reference.metrics)
    for got, want in ((resumed.g, reference.g), (resumed.d, reference.d)):
        a, b = got.state_dict(), want.state_dict()
        assert a.keys() == b.keys()
        assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert history(tracker) == history(ref_tracker)
