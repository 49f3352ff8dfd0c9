"""One step for lone and stacked runs (issue 14): the hooks run in one order in both, D's
forward before `d_targets`; train/ names no trick and has no import circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import torch

from ganbench.config import RunConfig
from ganbench.train import Trainer
from ganbench.train.step import train_step
from ganbench.train.vectorised import VectorisedTrainer
from ganbench.tricks import TRICKS, TrickStack
from ganbench.tricks.base import Trick

TRAIN = Path(__file__).resolve().parents[3] / "ganbench" / "train"


class Recorder(Trick):
    """Test only: records each hook call (not registered)."""

    name = "recorder"

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def d_inputs(self, real, fake, step):
        self.log.append("d_inputs")
        return real, fake

    def d_targets(self, real_t, fake_t):
        self.log.append("d_targets")
        return real_t, fake_t

    def d_terms(self, ctx):
        self.log.append("d_terms")
        return {}

    def g_terms(self, ctx):
        self.log.append("g_terms")
        return {}

    def after_step(self, ctx):
        self.log.append("after_step")


class _Logged:
    """A net that logs each forward."""

    def __init__(self, net, log: list[str]) -> None:
        self.net, self.log = net, log

    def __call__(self, x):
        self.log.append("D")
        return self.net(x)

    def __getattr__(self, name):
        return getattr(self.net, name)


def _recorded(run, seeds) -> list[str]:
    """The hook and D-forward calls of one iteration of `run`, repeats per seed merged."""
    log: list[str] = []
    for seed in seeds:
        seed.stack = TrickStack([Recorder(log)])
    run.d = _Logged(run.d, log)
    train_step(run, 0)
    return [e for i, e in enumerate(log) if i == 0 or log[i - 1] != e]


def _cfg(tmp_path, seed: int) -> RunConfig:
    return RunConfig(dataset="ring8", model="mlp", steps=1, batch_size=8, device="cpu",
                     data_root=tmp_path, seed=seed)


def test_hooks_and_d_forwards_run_in_one_order_alone_and_stacked(tmp_path):
    tr = Trainer(_cfg(tmp_path, 0))
    alone = _recorded(tr.as_seeds, [tr])
    vt = VectorisedTrainer([_cfg(tmp_path, s) for s in (0, 1)])
    stacked = _recorded(vt, vt.seeds)
    vt.finish()
    # D's forward before d_targets: a D that draws randomness keeps its place in the stream.
    assert alone == ["d_inputs", "D", "d_targets", "d_terms", "d_inputs", "D", "g_terms",
                     "after_step"]
    assert stacked == alone


def test_a_lone_evaluation_returns_its_tags(tmp_path):
    tr = Trainer(_cfg(tmp_path, 0))
    ev = tr.evaluate()
    assert set(ev) >= {"modes", "hq"} and ev.tags == {}
    assert isinstance(ev["modes"], float | int)


def test_train_names_no_trick():
    names = {n for n in TRICKS.names() if not n.startswith("test_")}
    names |= {TRICKS.get(n).short for n in names} | {n.replace("_", " ") for n in names}
    found = [(f.name, n) for f in TRAIN.glob("*.py") for n in sorted(names)
             if re.search(rf"\b{re.escape(n)}\b", f.read_text(), re.IGNORECASE)]
    assert found == []


def test_train_modules_import_no_circle():
    """Every import between ganbench.train modules, function-local and TYPE_CHECKING ones
    too, goes one way."""
    mods = {f.stem: f for f in TRAIN.glob("*.py") if f.stem != "__init__"}
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["ganbench", "train"]:
                    targets = parts[2:3] or [a.name for a in node.names]
                    edges[m] |= {t for t in targets if t in mods}

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        return any(n == b or (n not in seen and reaches(n, b, seen | {n})) for n in edges[a])

    assert [m for m in mods if reaches(m, m, set())] == []


def test_the_stacked_loss_is_the_lone_loss_per_seed(tmp_path):
    """S = 1 stacked and the lone run give the same first-step terms (float64)."""
    with _float64():
        alone = Trainer(_cfg(tmp_path, 3)).step(0)
        vt = VectorisedTrainer([_cfg(tmp_path, 3)])
        stacked = train_step(vt, 0)
        vt.finish()
    assert list(alone) == list(stacked)
    for k in alone:
        assert torch.allclose(alone[k], stacked[k][0], rtol=1e-12, atol=1e-12)


class _float64:
    def __enter__(self):
        self.old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.old)
