from ganbench.train.loop import Trainer, train
from ganbench.train.state import Progress, RunResult, StopRun

__all__ = ["Progress", "RunResult", "StopRun", "Trainer", "train"]
