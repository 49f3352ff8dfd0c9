"""`local`: worker processes on this machine, under the command, which follows them to the end
(what `ganbench sweep` has always done)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ganbench.sweep.launch import LAUNCHERS, JobState, Launcher


@LAUNCHERS.register("local")
class LocalLauncher(Launcher):
    """Hooks: `on_event` (progress, sweep/runner.py's Event) and `warm` (processes started
    while the sweep was planned). After submit(), `counts` holds the queue's counts and the
    workers that crashed or found the disk full."""

    blocking = True
    needs_shared = False

    def submit(self, n_workers: int) -> list[str]:
        from ganbench.sweep.runner import run_workers

        pids: set[str] = set()
        self.counts: dict[str, int] = run_workers(
            self.sw, replace(self.opts, workers=n_workers), self.hooks.get("on_event"),
            pids=pids, warm=self.hooks.get("warm"))
        return sorted(pids)

    @classmethod
    def states(cls, entry: dict[str, Any]) -> list[JobState]:
        # submit() returns when its processes have ended
        return [JobState(str(j), "ENDED") for j in entry.get("jobs", [])]
