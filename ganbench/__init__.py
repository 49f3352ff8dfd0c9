"""ganbench: which GAN training tricks really help.

The public Python API (`ganbench.sweep(...)`, `ganbench.load_runs(...)`, `ganbench.Trick`,
...) lives in ganbench/api.py and is loaded on first use, so `import ganbench` (and the
command line's `--help`) stays fast.
"""

from ganbench.version import __version__

_API = ("Trick", "TrickParams", "register_trick", "register_model", "register_dataset",
        "register_loss", "register_metric", "train", "sweep", "report", "load_runs")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
