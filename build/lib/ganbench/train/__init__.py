from ganbench.train.loop import Trainer, train
from ganbench.train.state import Progress, RunResult

__all__ = ["Progress", "RunResult", "Trainer", "train"]
