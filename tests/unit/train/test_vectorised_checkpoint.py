"""Checkpoints of vectorised seeds: each stacked seed saves its lone run's checkpoint, so
after a crash it resumes alone with `train(cfg, checkpoints=...)` and ends where its
uninterrupted lone run ends (exactly in float64, to float rounding in float32: the
tolerances of test_vectorised.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.resume import Crash, RecordingCheckpointer

from ganbench.config import RunConfig
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, Trainer, train
from ganbench.train.checkpoint import FileCheckpointer
from ganbench.train.vectorised import train_vectorised

from .test_vectorised import (
    DTYPES,
    FLOAT64,
    IMAGES,
    assert_same_history,
    assert_same_result,
    cfgs_of,
    default_dtype,
    tolerance,
)

# test_nan_for_seed (helpers/stub_tricks.py), registered for each test.
pytestmark = pytest.mark.usefixtures("scoped_test_tricks")

EVERY = 4  # POINTS windows end at 2, 4, 5, 6, 8, 10: saves at 4 and 8
CRASH = 6  # after the save at 4: the resumed seeds redo steps 5 (an evaluation) and 6


def crash_at(step: int):
    def progress(i: int, p: Progress) -> None:
        if p.step == step:
            raise Crash(step)
    return progress


def lone_runs(cfgs: list[RunConfig]) -> list[tuple]:
    return [(train(c, t), t) for c, t in ((c, MemoryTracker()) for c in cfgs)]


def crash_stacked(cfgs: list[RunConfig], folder: Path, every: int, crash: int
                  ) -> list[RecordingCheckpointer]:
    ckpts = [RecordingCheckpointer(folder / f"seed{c.seed}.pt", every) for c in cfgs]
    with pytest.raises(Crash):
        train_vectorised(cfgs, [MemoryTracker() for _ in cfgs], progress=crash_at(crash),
                         checkpoints=ckpts)
    return ckpts


def assert_same_structure(a: Any, b: Any, where: str = "", leaves: bool = True) -> None:
    """The same nested containers (and types, and state_dict metadata), keys in the same
    order, tensors of the same shape and dtype, and (`leaves`) equal non-tensor leaves but
    floats (assert_close_values compares those)."""
    assert type(a) is type(b), where
    if torch.is_tensor(a):
        assert (a.shape, a.dtype, a.device) == (b.shape, b.dtype, b.device), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None), where
        for k in a:
            assert_same_structure(a[k], b[k], f"{where}/{k}", leaves)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_structure(x, y, f"{where}/{k}", leaves)
    elif leaves and not isinstance(a, float):
        assert a == b, where


def assert_close_values(a: Any, b: Any, where: str = "") -> None:
    """Float tensors and floats within float64 rounding, everything else (RNG states,
    counters, Adam's step) exactly; `perf/*` (wall-clock) is not compared."""
    if "perf/" in where:
        return
    if torch.is_tensor(a):
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=FLOAT64.rtol, atol=FLOAT64.atol), where
        else:
            assert torch.equal(a, b), where
    elif isinstance(a, dict):
        for k in a:
            assert_close_values(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close_values(x, y, f"{where}/{k}")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=FLOAT64.rel, abs=FLOAT64.atol, nan_ok=True), where
    else:
        assert a == b, where


# ------------------------------------------------------------------ crash stacked, resume alone


CASES = {
    "plain": {},
    # EMA's average and LeCam's anchors: trick state outside the nets.
    "ema_lecam": {"ema": {"decay": 0.9}, "lecam": {}},
    # Lazy R1's D-step counter, mid-interval at the save (4 D steps, interval 3).
    "lazy_r1": {"r1": {"interval": 3}},
    # Draws from the global RNG (each seed's own stream).
    "gradient_penalty": {"gradient_penalty": {}},
    # Two D steps per G step (D's Adam steps twice as often); TTUR's rates and betas.
    "n_critic_ttur": {"n_critic": {"steps": 2}, "ttur": {}},
}


def check_resume(cfgs: list[RunConfig], folder: Path, every: int, crash: int,
                 dtype: torch.dtype, saved_at: list[int]) -> None:
    with default_dtype(dtype):
        alone = lone_runs(cfgs)
        ckpts = crash_stacked(cfgs, folder, every, crash)
        trackers = [MemoryTracker() for _ in cfgs]
        resumed = [(train(c, t, checkpoints=FileCheckpointer(k.path, every)), t)
                   for c, k, t in zip(cfgs, ckpts, trackers, strict=True)]
    tol = tolerance(dtype, cfgs[0])
    for k, (ra, ta), (rb, tb) in zip(ckpts, alone, resumed, strict=True):
        assert k.saved_at == saved_at
        assert rb.resumed_from == saved_at[-1] and tb.tags["resumed_from_step"] == str(
            saved_at[-1])
        assert_same_history(ta, tb, tol)
        assert_same_result(ra, rb, tol)


@DTYPES
@pytest.mark.parametrize("tricks", CASES.values(), ids=CASES.keys())
def test_a_crashed_stacks_seeds_resume_alone_to_their_lone_runs(tmp_path, tricks, dtype):
    cfgs = cfgs_of(tmp_path, tricks=tricks)
    check_resume(cfgs, tmp_path / "ckpt", EVERY, CRASH, dtype, saved_at=[4])


@DTYPES
def test_a_crashed_stack_resumes_alone_mid_schedule(tmp_path, dtype):
    # The rate, Adam's beta2 and R1's gamma each move until step 8; the save at 4 holds the
    # optimisers' settings of step 3, and the resumed seeds set step 4's before it.
    cfgs = cfgs_of(tmp_path, lr={"start": 1e-3, "end": 0.0},
                   betas=[0.0, {"start": 0.9, "end": 0.99, "shape": "cosine", "over": 8}],
                   tricks={"r1": {"gamma": {"start": 10.0, "end": 1.0, "over": 8}}})
    check_resume(cfgs, tmp_path / "ckpt", EVERY, CRASH, dtype, saved_at=[4])


@DTYPES
def test_batch_norm_images_resume_alone(tmp_path, dtype):
    # dcgan28: batch-norm statistics in G and D (G's updated by evaluation too, before the
    # save), spectral norm's power-iteration vectors, EMA's copy of G with its statistics.
    cfgs = cfgs_of(tmp_path, **IMAGES, tricks={"spectral_norm": {}, "ema": {"decay": 0.9}})
    check_resume(cfgs, tmp_path / "ckpt", every=2, crash=3, dtype=dtype, saved_at=[2])


# ------------------------------------------------------------------ the lone format


def test_a_seeds_checkpoint_is_its_lone_runs_checkpoint(tmp_path):
    """Saved at the same steps as the lone run's, with the same structure (keys and their
    order, types, shapes: Adam's state in the lone parameter order, TTUR's param groups),
    equal values in float64 and identical RNG states and counters."""
    cfgs = cfgs_of(tmp_path, tricks={"n_critic": {"steps": 2}, "ttur": {}, "lecam": {},
                                     "gradient_penalty": {}, "ema": {"decay": 0.9}})
    with default_dtype(torch.float64):
        lone = [RecordingCheckpointer(tmp_path / f"lone{c.seed}.pt", EVERY) for c in cfgs]
        for c, k in zip(cfgs, lone, strict=True):
            train(c, checkpoints=k)
        stacked = [RecordingCheckpointer(tmp_path / f"stacked{c.seed}.pt", EVERY) for c in cfgs]
        train_vectorised(cfgs, checkpoints=stacked)
    for a, b in zip(lone, stacked, strict=True):
        assert a.saved_at == b.saved_at == [4, 8]
        sa, sb = a.load(), b.load()
        assert_same_structure(sa, sb)
        assert_close_values(sa, sb)
        assert sb["opt_d"]["state"][0]["step"].item() == 2 * 8  # 2 D steps per iteration
        # One seed's tensors only (the stacked ones would triple the file).
        assert a.path.stat().st_size == b.path.stat().st_size


def test_a_seeds_checkpoint_loads_into_a_lone_trainer(tmp_path):
    cfgs = cfgs_of(tmp_path, **IMAGES, tricks={"ttur": {}, "lecam": {}})
    ckpts = [RecordingCheckpointer(tmp_path / f"seed{c.seed}.pt", 2) for c in cfgs]
    train_vectorised(cfgs, checkpoints=ckpts)
    for cfg, ckpt in zip(cfgs, ckpts, strict=True):
        state = ckpt.load()
        assert state["loop"]["step"] == cfg.steps and ckpt.saved_at == [2, 4]
        own = Trainer(cfg)
        own.step(0)  # every parameter has its Adam state now
        # After 1 step, not 4: the same structure, other counts.
        assert_same_structure(own.state_dict(), {k: v for k, v in state.items() if k != "loop"},
                              leaves=False)
        for net, opt in (("g", "opt_g"), ("d", "opt_d")):
            # Parameter i of the lone optimiser is the lone net's parameter i.
            shapes = [p.shape for p in getattr(own, net).parameters()]
            moments = state[opt]["state"]
            assert [moments[i]["exp_avg"].shape for i in range(len(shapes))] == shapes
            assert moments.keys() == set(range(len(shapes)))
        tr = Trainer(cfg)
        tr.load_state_dict(state)
        for net in ("g", "d"):
            got, saved = getattr(tr, net).state_dict(), state[net]
            assert all(torch.equal(got[k], saved[k]) for k in saved)
        assert tr.opt_d.param_groups[0]["lr"] == own.opt_d.param_groups[0]["lr"] != cfg.lr
        assert tr.d_steps_done == cfg.steps  # one D step per iteration
        assert torch.equal(tr.gen.get_state(), state["rng"]["run"])
        assert torch.equal(torch.get_rng_state(), state["rng"]["cpu"])


# ------------------------------------------------------------------ when a seed saves


def test_a_diverged_seed_saves_no_more_and_the_others_go_on(tmp_path):
    # Seed 1 turns non-finite at step 5: like its lone run, it saved at 2 and 4 only. The
    # others' later checkpoints come from the stack without it (seed 2 at position 1).
    cfgs = cfgs_of(tmp_path, tricks={"test_nan_for_seed": {"seeds": [1], "at": 5},
                                     "lecam": {}})
    with default_dtype(torch.float64):
        lone = [RecordingCheckpointer(tmp_path / f"lone{c.seed}.pt", 2) for c in cfgs]
        for c, k in zip(cfgs, lone, strict=True):
            train(c, checkpoints=k)
        stacked = [RecordingCheckpointer(tmp_path / f"stacked{c.seed}.pt", 2) for c in cfgs]
        results = train_vectorised(cfgs, checkpoints=stacked)
    assert [r.status for r in results] == ["finished", "diverged", "finished"]
    assert [k.saved_at for k in stacked] == [k.saved_at for k in lone] == [
        [2, 4, 6, 8, 10], [2, 4], [2, 4, 6, 8, 10]]
    for a, b in zip(lone, stacked, strict=True):
        sa, sb = a.load(), b.load()
        assert_same_structure(sa, sb)
        assert_close_values(sa, sb)


class NeverLoaded(RecordingCheckpointer):
    def load(self) -> dict[str, Any] | None:
        raise AssertionError("a stack does not resume")


def test_each_seed_has_its_own_checkpointer_or_none(tmp_path):
    cfgs = cfgs_of(tmp_path, steps=6)  # windows end at 2, 4, 5 (an evaluation) and 6
    ckpts = [NeverLoaded(tmp_path / "a.pt", 2), None, NeverLoaded(tmp_path / "c.pt", 3)]
    seen: list[tuple[int, int]] = []
    train_vectorised(cfgs, progress=lambda i, p: seen.append((i, p.step)), checkpoints=ckpts)
    assert ckpts[0].saved_at == [2, 4, 6]
    # The first window end 3 or more steps after the start, then none 3 after it, as alone.
    lone = RecordingCheckpointer(tmp_path / "lone.pt", 3)
    train(cfgs[2], checkpoints=lone)
    assert ckpts[2].saved_at == lone.saved_at == [4]
    assert sorted(seen) == sorted((i, s) for i in range(3) for s in (2, 4, 5, 6))
    with pytest.raises(ValueError, match="checkpointers"):
        train_vectorised(cfgs, checkpoints=ckpts[:2])


def test_every_zero_never_saves(tmp_path):
    ckpts = [RecordingCheckpointer(tmp_path / f"{s}.pt", 0) for s in (0, 1)]
    results = train_vectorised(cfgs_of(tmp_path, seeds=(0, 1), steps=4), checkpoints=ckpts)
    assert all(r.status == "finished" for r in results)
    assert all(k.saved_at == [] and k.load() is None for k in ckpts)
