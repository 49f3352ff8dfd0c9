"""Checkpoints: atomic files, refusal of foreign checkpoints, and bit-identical resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.resume import Crash, RecordingCheckpointer, exact, history

from ganbench.config import RunConfig
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import Progress, RunResult, Trainer, train
from ganbench.train import checkpoint as checkpoint_module
from ganbench.train.checkpoint import FileCheckpointer


def crash_at(step: int):
    def progress(p: Progress) -> None:
        if p.step == step:
            raise Crash(step)
    return progress


def cfg_of(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=8, batch_size=32, device="cpu", log_every=1, eval_every=3,
                eval_samples=256, data_root=tmp_path)
    base.update(overrides)
    return validate(RunConfig(**base))


def assert_same_run(a: RunResult, ta: MemoryTracker, b: RunResult, tb: MemoryTracker) -> None:
    assert (a.status, a.steps_done) == (b.status, b.steps_done)
    assert exact(a.metrics) == exact(b.metrics)  # ==, not approx
    for net_a, net_b in ((a.g, b.g), (a.d, b.d)):
        sa, sb = net_a.state_dict(), net_b.state_dict()  # parameters and buffers
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), [
            k for k in sa if not torch.equal(sa[k], sb[k])]
    assert history(ta) == history(tb)


def crash_and_resume(cfg: RunConfig, path: Path, every: int, crash: int
                     ) -> tuple[RunResult, MemoryTracker, RecordingCheckpointer]:
    ckpt = RecordingCheckpointer(path, every)
    with pytest.raises(Crash):
        train(cfg, tracker=MemoryTracker(), progress=crash_at(crash), checkpoints=ckpt)
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=RecordingCheckpointer(path, every))
    return resumed, tracker, ckpt


# ------------------------------------------------------------------ FileCheckpointer


def test_file_checkpointer_round_trips_and_starts_empty(tmp_path):
    ckpt = FileCheckpointer(tmp_path / "sub" / "run.pt", every=5)
    assert ckpt.load() is None
    state = {"format": 1, "x": torch.arange(3), "rng": torch.get_rng_state(),
             "loop": {"best": {"modes": (8, 4)}, "logged": [({"a": 1.5}, 2)]}}
    ckpt.save(state, 4)
    got = ckpt.load()
    assert torch.equal(got["x"], state["x"]) and torch.equal(got["rng"], state["rng"])
    assert got["loop"] == state["loop"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["run.pt"]


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt = FileCheckpointer(tmp_path / "run.pt", every=1)
    ckpt.save({"step": 1}, 1)

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save({"step": 2}, 2)
    assert ckpt.load() == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left


def test_negative_every_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="every"):
        FileCheckpointer(tmp_path / "run.pt", every=-1)


# ------------------------------------------------------------------ refusing foreign states


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    path = tmp_path / "run.pt"
    train(cfg_of(tmp_path, steps=4), checkpoints=FileCheckpointer(path, 2))
    with pytest.raises(ValueError, match=r"different run config \(lr: 0\.0002 in the checkpoint"):
        train(cfg_of(tmp_path, steps=4, lr=1e-3), checkpoints=FileCheckpointer(path, 2))
    with pytest.raises(ValueError, match="tricks"):
        train(cfg_of(tmp_path, steps=4, tricks={"ttur": {}}),
              checkpoints=FileCheckpointer(path, 2))


def test_resume_accepts_a_checkpoint_written_before_a_field_existed(tmp_path):
    # A release adds a config field with a default (g_width, d_width, conditional): a
    # checkpoint written before it resumes, as run keys do (they leave defaults out).
    import json

    from ganbench.train.checkpoint import check_compatible

    tr = Trainer(cfg_of(tmp_path))
    state = tr.state_dict()
    old = json.loads(state["config"])
    for key in ("g_width", "d_width", "conditional"):
        old.pop(key)
    check_compatible({**state, "config": json.dumps(old)}, tr.cfg)
    with pytest.raises(ValueError, match="conditional: False in the checkpoint, True now"):
        check_compatible(state, tr.cfg.model_copy(update={"conditional": True}))


def test_resume_ignores_device_and_data_root(tmp_path):
    path = tmp_path / "run.pt"
    train(cfg_of(tmp_path, steps=4, device="cpu"), checkpoints=FileCheckpointer(path, 2))
    result = train(cfg_of(tmp_path / "elsewhere", steps=4, device="auto"),
                   checkpoints=FileCheckpointer(path, 2))
    assert result.resumed_from == 4 and result.status == "finished"


def test_resume_refuses_an_unknown_format_and_another_device_type(tmp_path):
    tr = Trainer(cfg_of(tmp_path))
    state = tr.state_dict()
    with pytest.raises(ValueError, match="format"):
        tr.load_state_dict({**state, "format": 999})
    with pytest.raises(ValueError, match="written on cuda"):
        tr.load_state_dict({**state, "device_type": "cuda"})


# ------------------------------------------------------------------ identical resume


RESUME_CASES = {
    "plain": {},
    # Trick state outside the nets: EMA's average, LeCam's anchors; GP draws from the
    # global RNG.
    "stateful_tricks": {"ema": {"decay": 0.9}, "lecam": {}, "r1": {},
                        "gradient_penalty": {}},
    "n_critic_and_label_noise": {"n_critic": {"steps": 2}, "label_noise": {"p": 0.2},
                                 "spectral_norm": {}},
}


@pytest.mark.parametrize("tricks", RESUME_CASES.values(), ids=RESUME_CASES.keys())
def test_resumed_run_is_identical_to_an_uninterrupted_one(tmp_path, tricks):
    cfg = cfg_of(tmp_path, tricks=tricks)
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    # Saves at 2 and 4; the crash at 5 loses step 5, which the resumed run redoes.
    resumed, tracker, ckpt = crash_and_resume(cfg, tmp_path / "run.pt", every=2, crash=5)
    assert ckpt.saved_at == [2, 4]
    assert resumed.resumed_from == 4 and reference.resumed_from is None
    assert tracker.tags["resumed_from_step"] == "4"
    assert_same_run(reference, ref_tracker, resumed, tracker)
    assert {k for _, k, _ in tracker.metrics} >= {"train/d/adv", "eval/modes", "eval/hq/best"}


def test_resume_on_images_with_batch_norm_is_identical(tmp_path):
    # dcgan28's G has batch norm: its running statistics are state too.
    cfg = cfg_of(tmp_path, dataset="tiny-images", model="dcgan28", batch_size=8, steps=4,
                 log_every=1, eval_every=0)
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    resumed, tracker, _ = crash_and_resume(cfg, tmp_path / "run.pt", every=2, crash=3)
    assert resumed.resumed_from == 2
    assert_same_run(reference, ref_tracker, resumed, tracker)


def test_saves_only_at_window_ends_every_steps_apart(tmp_path):
    # every=4 with log_every=2 and off-grid evaluations (3, 6): saves exactly at 4 and 8.
    ckpt = RecordingCheckpointer(tmp_path / "run.pt", every=4)
    train(cfg_of(tmp_path, steps=9, log_every=2), checkpoints=ckpt)
    assert ckpt.saved_at == [4, 8]
    # every > steps: never saves, and the run is unaffected.
    never = RecordingCheckpointer(tmp_path / "never.pt", every=100)
    assert train(cfg_of(tmp_path, steps=9, log_every=2), checkpoints=never).status == "finished"
    assert never.saved_at == [] and never.load() is None


def test_resume_from_a_checkpoint_at_the_last_step_only_finishes(tmp_path):
    cfg = cfg_of(tmp_path, steps=4, log_every=2, eval_every=0)
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    resumed, tracker, ckpt = crash_and_resume(cfg, tmp_path / "run.pt", every=4, crash=4)
    assert ckpt.saved_at == [4] and resumed.resumed_from == 4
    assert_same_run(reference, ref_tracker, resumed, tracker)
    assert tracker.tags["status"] == "finished"


def test_a_resumed_run_can_resume_again(tmp_path):
    cfg = cfg_of(tmp_path, tricks={"lecam": {}, "ema": {}})
    ref_tracker = MemoryTracker()
    reference = train(cfg, tracker=ref_tracker)
    path = tmp_path / "run.pt"
    with pytest.raises(Crash):
        train(cfg, progress=crash_at(3), checkpoints=FileCheckpointer(path, 2))
    with pytest.raises(Crash):
        train(cfg, progress=crash_at(7), checkpoints=FileCheckpointer(path, 2))
    tracker = MemoryTracker()
    resumed = train(cfg, tracker=tracker, checkpoints=FileCheckpointer(path, 2))
    assert resumed.resumed_from == 6
    assert_same_run(reference, ref_tracker, resumed, tracker)


def test_a_checkpoint_from_another_device_type_restarts_the_run(tmp_path):
    # A run started on a GPU worker and retried on a CPU one: its RNG streams cannot carry
    # over, so it starts again (tagged why) and ends as an uninterrupted CPU run does.
    cfg = cfg_of(tmp_path)
    path = tmp_path / "ckpt.pt"
    crashed = RecordingCheckpointer(path, every=2)
    with pytest.raises(Crash):
        train(cfg, checkpoints=crashed, progress=crash_at(5))
    state = crashed.load()
    crashed.save({**state, "device_type": "cuda"}, 4)
    tracker, alone = MemoryTracker(), MemoryTracker()
    res = train(cfg, tracker, checkpoints=FileCheckpointer(path, every=0))
    ref = train(cfg, alone)
    assert res.resumed_from is None
    assert "written on cuda" in tracker.tags["checkpoint_skipped"]
    assert history(tracker) == history(alone) and res.metrics == ref.metrics
