"""One step for lone and stacked runs (issue 14): the hooks run in one order in both, D's
forward before `d_targets`; train/ names no trick and has no import circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganbench.config import RunConfig
from ganbench.contract.contexts import CONTRACT_LABELLED, contract_data
from ganbench.data.base import Dataset
from ganbench.models.conditional import bound_labels
from ganbench.train import Trainer
from ganbench.train.step import g_step, train_step
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


def _cfg(tmp_path, seed: int, **over) -> RunConfig:
    return RunConfig(**{**dict(dataset="ring8", model="mlp", steps=1, batch_size=8,
                               device="cpu", data_root=tmp_path, seed=seed), **over})


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


@pytest.mark.parametrize("loss", ["ns", "rpgan"])
def test_the_stacked_loss_is_the_lone_loss_per_seed(tmp_path, loss):
    """S = 1 stacked and the lone run give the same first-step terms (float64)."""
    with _float64():
        alone = Trainer(_cfg(tmp_path, 3, loss=loss)).step(0)
        vt = VectorisedTrainer([_cfg(tmp_path, 3, loss=loss)])
        stacked = train_step(vt, 0)
        vt.finish()
    assert list(alone) == list(stacked)
    for k in alone:
        assert torch.allclose(alone[k], stacked[k][0], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ G's real batch (rpgan)


class _Calls:
    """D as a step calls it, recording each input, output and the labels bound then."""

    def __init__(self, net) -> None:
        self.net, self.calls = net, []

    def __call__(self, x):
        out = self.net(x)
        y = bound_labels(self.net) if getattr(self.net, "n_classes", 0) else None
        self.calls.append((x, out, y))
        return out

    def __getattr__(self, name):
        return getattr(self.net, name)


class Shift(Trick):
    """Test only: D's real inputs shifted by 100, so a real seen through d_inputs shows."""

    name = "shift"

    def d_inputs(self, real, fake, step):
        return (None if real is None else real + 100.0), fake


def _draws(monkeypatch) -> list[torch.Tensor]:
    """Every real batch the data sampler hands out from now on (plain or labelled)."""
    out: list = []
    sample, labelled = Dataset.sample, Dataset.sample_labelled

    def counted(fn):
        return lambda self, n, generator=None: out.append(fn(self, n, generator)) or out[-1]

    monkeypatch.setattr(Dataset, "sample", counted(sample))
    monkeypatch.setattr(Dataset, "sample_labelled", counted(labelled))
    return out


def _one_g_step(tr: Trainer, monkeypatch):
    """(real batches drawn, D calls, terms) of one G step of `tr`."""
    draws = _draws(monkeypatch)
    run = tr.as_seeds
    run.d = _Calls(run.d)
    terms = g_step(run, 0)
    return draws, run.d.calls, terms


def test_an_rpgan_g_step_scores_a_fresh_real_batch(tmp_path, monkeypatch):
    draws, calls, terms = _one_g_step(Trainer(_cfg(tmp_path, 0, loss="rpgan")), monkeypatch)
    assert len(draws) == 1 and draws[0].shape == (8, 2)
    (x_fake, d_fake, _), (x_real, d_real, _) = calls
    assert x_real is draws[0]  # no input trick: D sees the batch as drawn
    assert not d_real.requires_grad  # a constant for G, as in R3GAN
    assert terms["adv"].item() == pytest.approx(F.softplus(d_real - d_fake).mean().item())


def test_other_g_steps_draw_no_real_batch(tmp_path, monkeypatch):
    draws, calls, _ = _one_g_step(Trainer(_cfg(tmp_path, 0, loss="ns")), monkeypatch)
    assert draws == [] and len(calls) == 1  # ns costs what it did: one D forward, no data


def test_rpgan_g_step_reals_take_d_input_path(tmp_path, monkeypatch):
    tr = Trainer(_cfg(tmp_path, 0, loss="rpgan"))
    tr.stack = TrickStack([Shift()])
    draws, calls, _ = _one_g_step(tr, monkeypatch)
    (x_fake, _, _), (x_real, _, _) = calls
    assert torch.equal(x_real, draws[0] + 100.0)
    assert x_fake.abs().max() < 50  # fakes untouched


def test_conditional_rpgan_g_step_pairs_fakes_with_the_reals_classes(tmp_path, monkeypatch):
    with contract_data():
        tr = Trainer(_cfg(tmp_path, 0, loss="rpgan", dataset=CONTRACT_LABELLED,
                          model="sngan32", conditional=True, g_width=2, d_width=4))
        draws, calls, terms = _one_g_step(tr, monkeypatch)
    (_, y), = draws
    # Fakes were generated for the real batch's classes, and D read them for both inputs.
    assert [c[2] is y for c in calls] == [True, True]
    assert torch.isfinite(terms["adv"])


class _float64:
    def __enter__(self):
        self.old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.old)
