"""A user's plugin written where a test wants it (never examples/), and a fixture that undoes
everything a plugin registers or imports, so no test sees another's plugin."""

from __future__ import annotations

import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path

from ganbench.registry import registries
from ganbench.specs import plugins

# A trick (a simple regulariser on D's real logits) and a 2-D dataset (16 modes on a ring).
PLUGIN = '''
"""A test plugin: the tp_drift trick and the tp_ring16 dataset."""
import torch
from pydantic import Field

from ganbench.data.base import Dataset, register_dataset
from ganbench.data.mog import ring_modes
from ganbench.tricks.base import Trick, TrickParams, register


@register("tp_drift")
class TpDrift(Trick):
    """Drift penalty (Karras et al. 2018): weight * E[D(x)^2]."""

    paper = "Karras et al. 2018"
    short = "tpd"
    vectorisable = True

    class Params(TrickParams):
        weight: float = Field(0.001, gt=0)

    def d_terms(self, ctx):
        return {"tp_drift": self.params.weight * ctx.d_real.pow(2).mean()}


@register_dataset("tp_ring16")
def load_tp_ring16(root):
    return Dataset("tp_ring16", "points", "synthetic", modes=ring_modes(16), mode_std=0.01)
'''


def write_plugin(path: Path, tail: str = "") -> Path:
    path.write_text(PLUGIN + textwrap.dedent(tail) + "\n")
    return path


def isolation(monkeypatch, tmp_path_factory):
    """The body of a test module's `isolated_plugins` fixture (yield from it)."""
    modules = set(sys.modules)
    tmp = str(tmp_path_factory.getbasetemp())
    monkeypatch.setattr(plugins, "_LOADED", {})
    monkeypatch.setattr(plugins, "_STARTUP", None)
    with ExitStack() as stack:
        for reg in registries():
            stack.enter_context(reg.scoped())
        yield
    for name in set(sys.modules) - modules:  # the plugins the test wrote, nothing else
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(tmp):
            del sys.modules[name]


def unload_all() -> None:
    """Forget every plugin this process loaded (as a fresh process would start), inside a
    test that uses `isolated_plugins`."""
    for p in plugins.loaded():
        for reg in registries():
            reg.remove_origin(p.label)
        sys.modules.pop(p.module, None)
    plugins._LOADED.clear()
    plugins._STARTUP = None
