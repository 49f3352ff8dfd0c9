"""ganbench: which GAN training tricks really help.

The public Python API (`ganbench.sweep(...)`, `ganbench.load_runs(...)`, `ganbench.Trick`,
...) lives in ganbench/api.py and is loaded on first use, so `import ganbench` (and the
command line's `--help`) stays fast.

`train`, `sweep` and `report` are also subpackages (ganbench/train/, ...): whichever is
imported first, `ganbench.sweep` is the subpackage, and calling it calls `api.sweep`. Why the
module classes are swapped: importing a subpackage (ganbench.api does) rebinds `ganbench.train`
to it, and a plain module cannot be called; binding the functions instead would break
`import ganbench.sweep.runner as runner`. Only renaming the subpackages could drop the swap.
"""

import importlib
import sys
import types

from ganbench.version import __version__

_API = ("Trick", "TrickParams", "Design", "FeatureExtractor", "register_trick",
        "register_model", "register_dataset", "register_loss", "register_metric",
        "register_design", "register_extractor", "train", "sweep", "report", "load_runs",
        "load_generator", "list_tricks", "list_models", "list_datasets", "list_losses",
        "list_metrics", "list_designs", "list_protocols", "list_extractors")
_PACKAGES = ("train", "sweep", "report")  # API names that are subpackages too

__all__ = ["__version__", *_API]


class _CallablePackage(types.ModuleType):
    """A subpackage that is also an API function: calling it calls ganbench.api's."""

    def __call__(self, *args, **kwargs):
        from ganbench import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    # The import system binds a subpackage with setattr(ganbench, name, module): the one
    # place that sees every way `ganbench.sweep` comes to exist.
    def __setattr__(self, name, value):
        if name in _PACKAGES and type(value) is types.ModuleType:
            value.__class__ = _CallablePackage
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _PACKAGES:
        return importlib.import_module(f"ganbench.{name}")
    if name in _API:
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
