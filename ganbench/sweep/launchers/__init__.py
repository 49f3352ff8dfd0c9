"""The built-in launchers; importing this package registers them in `LAUNCHERS`."""

from ganbench.sweep.launch import LAUNCHERS, JobState, Launcher
from ganbench.sweep.launchers import local, slurm  # noqa: F401  (registration)

__all__ = ["LAUNCHERS", "JobState", "Launcher"]
