"""Seed-stacked nets and optimisers: S copies of one architecture as tensors with a leading
seed dimension, run at once with `vmap(functional_call(...))` (used by train/vectorised.py).

Each per-seed module keeps existing: its parameters and buffers are replaced by views of
the stacked tensors, so code that calls one seed's net (a trick's penalty, evaluation, a
trick reading G) sees the stacked values without copies, its gradients reach the stacked
leaves, and its in-place buffer updates (batch-norm statistics, a trick's buffers) land in
the stacked buffers. What a trick's modules need to run under vmap, the trick declares
(`Trick.stacked_template`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

# Element-wise optimisers only: on stacked parameters they are S independent optimisers.
ELEMENTWISE_OPTIMISERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


class SeedRng:
    """One seed's global RNG state (CPU, and its CUDA device's), active only around that
    seed's hook calls, so the tricks' own draws follow the lone run's stream."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextmanager
    def active(self) -> Iterator[None]:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
        try:
            yield
        finally:
            self.cpu = torch.get_rng_state()
            if self.cuda is not None:
                self.cuda = torch.cuda.get_rng_state(self.device)

    def states(self) -> dict[str, torch.Tensor]:
        """{"cpu": ..., "cuda": ...} as a lone run's checkpoint holds them."""
        return {"cpu": self.cpu} | ({"cuda": self.cuda} if self.cuda is not None else {})


def _owner(net: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attr = name.rpartition(".")
    return (net.get_submodule(path) if path else net), attr


class StackedNet:
    """`nets` (same architecture, one per seed) as stacked tensors; `self(x)` maps
    x (S, B, ...) to (S, B, ...) through every seed's net at once."""

    def __init__(self, nets: list[nn.Module],
                 template: Callable[[nn.Module], nn.Module] = lambda net: net) -> None:
        """`template`: the tricks' changes to the structure vmap runs (a TrickStack's
        `stacked_template`)."""
        self.nets = list(nets)
        self.params, self.buffers = stack_module_state(self.nets)
        # The template only provides the structure: functional_call swaps the tensors in.
        self.template = template(copy.deepcopy(self.nets[0]).to("meta"))
        self._run = vmap(self._one)
        self._bind()

    def _one(self, params, buffers, x):
        return functional_call(self.template, (params, buffers), (x,))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.params, self.buffers, x)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def _bind(self) -> None:
        """Make each seed's module read and write its slice of the stacked tensors."""
        with torch.enable_grad():  # the views must carry gradients to the stacked leaves
            for s, net in enumerate(self.nets):
                for name, p in self.params.items():
                    owner, attr = _owner(net, name)
                    owner._parameters[attr] = p[s]
                for name, b in self.buffers.items():
                    owner, attr = _owner(net, name)
                    owner._buffers[attr] = b[s]

    def select(self, keep: list[int]) -> None:
        """Keep only the seeds at positions `keep` (the others' modules are released)."""
        for s in set(range(len(self.nets))) - set(keep):
            release(self.nets[s])
        idx = torch.tensor(keep, device=next(iter(self.params.values())).device)
        with torch.no_grad():
            self.params = {k: p.index_select(0, idx).requires_grad_(p.requires_grad)
                           for k, p in self.params.items()}
            self.buffers = {k: b.index_select(0, idx) for k, b in self.buffers.items()}
        self.nets = [self.nets[s] for s in keep]
        self._bind()


def release(net: nn.Module) -> nn.Module:
    """Give a bound per-seed module its own copies of its tensors: a plain module again."""
    for name, p in list(net.named_parameters()):
        owner, attr = _owner(net, name)
        owner._parameters[attr] = nn.Parameter(p.detach().clone(), p.requires_grad)
    for name, b in list(net.named_buffers()):
        owner, attr = _owner(net, name)
        owner._buffers[attr] = b.detach().clone()
    return net


def stacked_optimiser(like: torch.optim.Optimizer, params: list[torch.Tensor]
                      ) -> torch.optim.Optimizer:
    """An optimiser of `like`'s class and settings (one group) over stacked parameters."""
    if not isinstance(like, ELEMENTWISE_OPTIMISERS):
        raise ValueError(f"{type(like).__name__} is not element-wise; seeds cannot share it")
    if len(like.param_groups) != 1:
        raise ValueError("vectorised seeds support one optimiser parameter group")
    settings = {k: v for k, v in like.param_groups[0].items() if k != "params"}
    return type(like)(params, **settings)


def select_optimiser(opt: torch.optim.Optimizer, old: list[torch.Tensor],
                     new: list[torch.Tensor], keep: list[int]) -> torch.optim.Optimizer:
    """`opt` rebuilt over `new` (= `old` restricted to seeds `keep`), its state restricted
    the same way (Adam's moments are per element; its step count is shared)."""
    out = stacked_optimiser(opt, new)
    idx = torch.tensor(keep)
    for p_old, p_new in zip(old, new, strict=True):
        state = opt.state.get(p_old)
        if state:
            out.state[p_new] = {
                k: (v.index_select(0, idx.to(v.device)) if torch.is_tensor(v) and v.dim() > 0
                    else v)
                for k, v in state.items()
            }
    return out


def _seed_part(value: Any, seed: int) -> Any:
    # Per-element state has the seed dimension first; scalars (Adam's step) are shared.
    return value[seed] if torch.is_tensor(value) and value.dim() > 0 else value


def seed_optimiser_state(opt: torch.optim.Optimizer, seed: int) -> dict[str, Any]:
    """The `state_dict()` that `opt`'s optimiser over seed `seed`'s own parameters alone
    would have: `opt` steps stacked parameters (StackedNet.parameters(), in the order of the
    seed nets' `parameters()`, which a lone optimiser uses too), so parameter i's state is
    its stacked state's slice `seed` (shared scalars such as Adam's step as they are; its
    settings, e.g. rates a trick set, are every seed's). Tensors are views of the live state:
    copy them before `opt` steps again."""
    full = opt.state_dict()
    return {"state": {i: {k: _seed_part(v, seed) for k, v in st.items()}
                      for i, st in full["state"].items()},
            "param_groups": copy.deepcopy(full["param_groups"])}


def copied(obj: Any) -> Any:
    """`obj` with every tensor in it (nested dicts, lists, tuples; state_dicts keep their
    type and metadata) replaced by a compact copy of its own: no storage shared with a
    live run, and serialising a slice does not write the whole stacked tensor it is a view
    of."""
    if torch.is_tensor(obj):
        return obj.detach().clone()
    if isinstance(obj, dict):
        out = type(obj)((k, copied(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a module state_dict's versions, which loading reads
            out._metadata = copy.deepcopy(obj._metadata)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(copied(v) for v in obj)
    return obj
