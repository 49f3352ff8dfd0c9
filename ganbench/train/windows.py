"""The one outer loop, for `train()` and `train_vectorised()`: steps in logging windows,
each window closed with one host sync, evaluations, divergence and checkpoints per seed.

Hot-loop rule: no host synchronisation per step. Loss terms stay on the device and are
fetched once per logging window, where non-finite values are also detected (a seed stops
with its first bad step and term; at most one window of extra work). Checkpoints, too, are
taken only at the end of a window.
"""

from __future__ import annotations

from collections.abc import Callable

from ganbench.train.checkpoint import Checkpointer
from ganbench.train.runlog import LossWindow, RunLog, window_end
from ganbench.train.state import Progress, RunResult
from ganbench.train.step import Seeds, train_step

SeedProgress = Callable[[int, Progress], None]  # (position in the configs, its progress)


def run_windows(run: Seeds, logs: list[RunLog], step: int,
                checkpoints: list[Checkpointer | None], progress: SeedProgress | None
                ) -> list[RunResult]:
    """Train `run`'s seeds from `step` (a window end: 0, or a checkpoint's step) to the
    config's steps or until every seed has diverged; `logs[i]` keeps the record of the seed
    at position i. Returns each seed's RunResult.

    `progress` is the loop's one hook for its caller: it sees each window's Progress (with
    the evaluation's metrics when one ran) and may raise StopRun (train/state.py) to end
    the run there, e.g. a tuner's pruner; nothing here knows who asked."""
    seeds, cfg = list(run.seeds), run.cfg  # every seed, also those that stop early
    last_save = [step] * len(seeds)
    window = LossWindow(step)
    while step < cfg.steps and run.index:
        window.add(train_step(run, step))
        step += 1
        log_now, eval_now = window_end(step, cfg)
        if not log_now:
            continue
        values = run.by_seed(window.fetch(step))  # (W, T, S): one host sync for every seed
        gone, reports = [], []
        for pos, i in enumerate(run.index):
            s = run.seeds[pos]
            # The last step's evaluation is the final one: scored eval_repeats times.
            evaluate = (s.evaluate_final if step == cfg.steps else s.evaluate) \
                if eval_now else None
            p = logs[i].end_window(values[:, :, pos].contiguous(), window, step, evaluate,
                                   s.snapshot if eval_now else None)
            if p is None:
                gone.append(pos)  # diverged
                continue
            # Saved after the evaluation: evaluating G in train mode updates its batch-norm
            # running statistics, which are part of the state.
            ckpt = checkpoints[i]
            if ckpt and ckpt.every > 0 and step - last_save[i] >= ckpt.every:
                ckpt.save(logs[i].checkpoint(step, run.seed_state(pos)), step)
                last_save[i] = step
            reports.append((i, p))
        if gone:
            run.drop(gone)  # a diverged seed keeps its nets as they are now
        if progress:  # after every seed's checkpoints of the window are saved
            for i, p in reports:
                progress(i, p)
        window.restart(step)
    run.finish()
    return [log.result(step, s.d_steps_done, g=s.eval_g, d=s.d, data=s.data,
                       device=str(s.device)) for log, s in zip(logs, seeds, strict=True)]
