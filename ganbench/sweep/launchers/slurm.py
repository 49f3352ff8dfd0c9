"""`slurm`: the sweep's workers as a Slurm job array, submitted through submitit (the only
submitit import; it is imported when a job is submitted or looked up, so ganbench runs
without it: `pip install 'ganbench[slurm]'`).

Each array job runs `WorkerJob`: in-process, what `ganbench worker SWEEP` runs (attach to the
shared queue, load the sweep's plugins, one worker process per GPU or one on the CPU, pull runs
until none is left). Preemption and time limits: Slurm signals the job (USR2) before it stops
it; submitit then calls `WorkerJob.checkpoint`, which stops the job's workers with Ctrl-C (each
puts its run in flight back in the queue at once, marked killed) and hands submitit a fresh
`WorkerJob` to requeue. Whichever job takes such a run resumes it from its last ganbench
checkpoint (`checkpoint_every`). A job killed outright (SIGKILL, a lost node) sends no more
heartbeats: after `grace_period` any other job re-queues its run, which resumes the same way.

submitit pickles the job (and its result) into its own folder, `<results>/<sweep>/submitit/`,
and unpickles them in the job; that folder is submitit's private state, written by this user.
What ganbench reads back is JSON only: `launch.json` (sweep/launch.py) with the job ids, and
the jobs' states from Slurm (sacct) or, for the local executor, from their process ids.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from shutil import which
from typing import Any

from ganbench.sweep.launch import LAUNCHERS, JobState, Launcher

STOP_WAIT_S = 60  # Slurm's signal comes 90 s (submitit's default) before the job is stopped


def preemption_signal() -> signal.Signals:
    """The signal submitit checkpoints on (its SUBMITIT_PREEMPT_SIGNAL, USR2 by default)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper()
    return getattr(signal, name if name.startswith("SIG") else f"SIG{name}", signal.SIGUSR2)


class WorkerJob:
    """One array job's body: picklable (plain fields only), with submitit's checkpoint hook
    (submitit looks for a `checkpoint` method; subclassing its Checkpointable would make
    importing ganbench need submitit)."""

    def __init__(self, sweep: str, storage: str, tracking_uri: str, results: str,
                 device: str = "auto", checkpoint_every: int = 5000, vectorise: str = "off",
                 system_metrics: bool = False, heartbeat_interval: int = 30,
                 grace_period: int = 120) -> None:
        self.fields = dict(sweep=sweep, storage=storage, tracking_uri=tracking_uri,
                           results=results, device=device, checkpoint_every=checkpoint_every,
                           vectorise=vectorise, system_metrics=system_metrics,
                           heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        self._pids: set[str] = set()  # this job's worker processes, while it runs

    def __getstate__(self) -> dict[str, Any]:
        return {"fields": self.fields}  # never the pids of a job that has ended

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.fields, self._pids = dict(state["fields"]), set()

    def __call__(self) -> dict[str, int]:
        from ganbench.specs import plugins
        from ganbench.sweep.runner import SweepOptions, attach, run_workers, worker_devices
        from ganbench.sweep.storage import Liveness

        f = self.fields
        opts = SweepOptions(results=Path(f["results"]), storage=f["storage"],
                            tracking_uri=f["tracking_uri"], device=f["device"],
                            checkpoint_every=f["checkpoint_every"], vectorise=f["vectorise"],
                            liveness=Liveness(f["heartbeat_interval"], f["grace_period"]),
                            system_metrics=f["system_metrics"])
        sw = attach(f["sweep"], opts)
        plugins.load_recorded(sw.queue.meta.get("plugins", []))
        devices = worker_devices(f["device"], None)
        _log(f"worker job for sweep {f['sweep']}: {len(devices)} process(es) on "
             f"{', '.join(sorted(set(devices)))}")
        # The workers must not die of the preemption signal (its default action) before this
        # process has told them to put their runs back: they start with it ignored, then it
        # is handed back to submitit's handler here.
        sig = preemption_signal()
        handler = signal.signal(sig, signal.SIG_IGN)

        def rearm() -> None:
            signal.signal(sig, handler)

        def on_event(ev) -> None:
            r = ev.run
            if r.get("worker", "").split(":")[-1] in self._pids:
                _log(f"  {r.get('status', '?'):9} {r.get('run_name', '?')}")

        try:
            counts = run_workers(sw, opts, on_event, devices=devices, pids=self._pids,
                                 on_started=rearm)
        finally:
            rearm()
        _log(f"done: {counts['finished']} finished, {counts['diverged']} diverged in the "
             "sweep; nothing left to claim")
        if counts["crashed_workers"] or counts["disk_full"]:
            raise RuntimeError(f"{counts['crashed_workers'] + counts['disk_full']} worker "
                               "process(es) of this job failed; see the log above")
        return counts

    def checkpoint(self, *args: Any, **kwargs: Any):
        """submitit's hook on preemption or time limit: the runs in flight go back to the
        queue now, and the job is requeued as a fresh WorkerJob."""
        from submitit.helpers import DelayedSubmission

        _log("preempted or at the time limit: returning the runs in flight to the queue")
        self.stop_workers()
        return DelayedSubmission(WorkerJob(**self.fields))

    def stop_workers(self) -> None:
        """Ctrl-C to each worker (it marks its run killed and re-queues it), again each
        second for one still booting, until they have ended or STOP_WAIT_S is up."""
        from ganbench.sweep.orphans import alive

        pids = {int(p) for p in self._pids}
        end = time.monotonic() + STOP_WAIT_S
        while pids and time.monotonic() < end:
            for pid in list(pids):
                if not alive(pid):
                    pids.discard(pid)
                    continue
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pids.discard(pid)
            time.sleep(1.0)


def _log(line: str) -> None:
    # This runs as the job's main program: its stdout is the job's log file.
    print(line, file=sys.stdout, flush=True)


# ------------------------------------------------------------------ the launcher


def make_executor(folder: Path, cluster: str):
    """submitit's executor (tests replace this with a fake)."""
    import submitit

    return submitit.AutoExecutor(folder=folder, cluster=cluster)


def executor_parameters(spec, name: str) -> dict[str, Any]:
    """The launcher block as submitit's parameters (generic ones, and slurm_* that the local
    executor ignores)."""
    params: dict[str, Any] = {"name": f"ganbench-{name}", "timeout_min": spec.time,
                              "nodes": 1, "tasks_per_node": 1}
    if spec.cpus_per_task is not None:
        params["cpus_per_task"] = spec.cpus_per_task
    if spec.cluster == "slurm":
        if spec.partition is not None:
            params["slurm_partition"] = spec.partition
        if spec.gpus_per_task is not None:
            params["slurm_gpus_per_task"] = spec.gpus_per_task
        if spec.array_parallelism is not None:
            params["slurm_array_parallelism"] = spec.array_parallelism
    elif spec.gpus_per_task:
        params["gpus_per_node"] = spec.gpus_per_task
    return params


@LAUNCHERS.register("slurm")
class SlurmLauncher(Launcher):
    """A Slurm job array of `n_workers` jobs, each a `WorkerJob`."""

    blocking = False
    needs_shared = True

    @classmethod
    def check(cls, spec) -> None:
        """Before anything is planned: submitit installed, and sbatch here (Slurm)."""
        import importlib.util

        if importlib.util.find_spec("submitit") is None:
            raise ValueError("--launcher slurm needs submitit, which is not installed: "
                             "pip install 'ganbench[slurm]' (or pip install 'submitit>=1.5')")
        if spec.cluster == "slurm" and which("sbatch") is None:
            raise ValueError("--launcher slurm: sbatch is not on PATH; run the command on a "
                             "Slurm login node (or set `launcher: {cluster: local}` to try the "
                             "jobs as processes on this machine)")

    @property
    def log_folder(self) -> Path:
        return (self.sw.folder / "submitit").resolve()

    def job(self) -> WorkerJob:
        o, s = self.opts, self.spec
        return WorkerJob(self.sw.spec.name, self.sw.storage, self.sw.store.uri,
                         str(o.results.resolve()), o.device, o.checkpoint_every, o.vectorise,
                         o.system_metrics, s.heartbeat_interval, s.grace_period)

    def submit(self, n_workers: int) -> list[str]:
        ex = make_executor(self.log_folder, self.spec.cluster)
        ex.update_parameters(**executor_parameters(self.spec, self.sw.spec.name))
        job = self.job()
        try:
            with ex.batch():  # one array job on Slurm
                jobs = [ex.submit(job) for _ in range(n_workers)]
        except Exception as e:  # noqa: BLE001 - sbatch's refusal is the user's to act on
            first = (str(e).strip().splitlines() or [type(e).__name__])[-1][:300]
            raise ValueError(f"--launcher slurm: the submission failed: {first}") from None
        return [str(j.job_id) for j in jobs]

    def details(self) -> dict[str, Any]:
        return {"cluster": self.spec.cluster, "log_folder": str(self.log_folder)}

    @classmethod
    def states(cls, entry: dict[str, Any]) -> list[JobState]:
        ids = [str(j) for j in entry.get("jobs", [])]
        if entry.get("cluster") == "local":
            return [JobState(j, _local_state(j)) for j in ids]
        try:
            import submitit

            folder = entry.get("log_folder", ".")
            return [JobState(j, submitit.SlurmJob(folder, j).state) for j in ids]
        except Exception as e:  # noqa: BLE001 - no sacct here, or Slurm does not answer
            why = (str(e).strip().splitlines() or [type(e).__name__])[0][:80]
            return [JobState(j, f"UNKNOWN ({why})") for j in ids]


def _local_state(job_id: str) -> str:
    """A local-executor job: its id is its controller's pid."""
    from ganbench.sweep.orphans import alive

    try:
        pid = int(job_id)
    except ValueError:
        return "UNKNOWN"
    return "RUNNING" if alive(pid) and _is_submitit(pid) else "ENDED"


def _is_submitit(pid: int) -> bool:
    """Whether pid is (still) a submitit controller, not a process that took its number."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"submitit" in f.read()
    except OSError:
        return True  # no /proc: trust the pid
