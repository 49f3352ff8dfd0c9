"""Spectral norm (Miyato et al. 2018): every D weight (and G's, if asked) has unit
spectral norm, before and after training."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import small
from torch import nn

from ganbench.train import Trainer


def top_singular_value(module: nn.Module) -> float:
    w = module.weight.detach()
    if isinstance(module, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # out channels are dim 1 for transposed convs
    return torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2).item()


def weighted(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("model,dataset", [("mlp", "ring8"), ("dcgan28", "tiny-images")])
def test_spectral_norm_makes_every_d_weight_unit_norm(tmp_path, model, dataset):
    plain = Trainer(small(tmp_path, model=model, dataset=dataset))
    sn = Trainer(small(tmp_path, model=model, dataset=dataset, tricks={"spectral_norm": {}}))
    plain_sv = [top_singular_value(m) for m in weighted(plain.d)]
    sn_sv = [top_singular_value(m) for m in weighted(sn.d)]
    assert len(sn_sv) == len(plain_sv) >= 2
    assert all(abs(s - 1.0) < 0.05 for s in sn_sv), sn_sv
    assert any(abs(s - 1.0) >= 0.05 for s in plain_sv), plain_sv
    # G untouched unless asked.
    assert [top_singular_value(m) for m in weighted(sn.g)] == pytest.approx(
        [top_singular_value(m) for m in weighted(plain.g)])
    assert any(abs(top_singular_value(m) - 1.0) >= 0.05 for m in weighted(sn.g))


@pytest.mark.parametrize("model,dataset", [("mlp", "ring8"), ("dcgan28", "tiny-images")])
def test_spectral_norm_on_g_also_normalises_g(tmp_path, model, dataset):
    tr = Trainer(small(tmp_path, model=model, dataset=dataset,
                       tricks={"spectral_norm": {"on_g": True}}))
    for net in (tr.d, tr.g):
        svs = [top_singular_value(m) for m in weighted(net)]
        assert svs and all(abs(s - 1.0) < 0.05 for s in svs), svs


def test_spectral_norm_stays_normalised_after_training(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"spectral_norm": {}}, lr=1e-2))
    for step in range(5):
        tr.step(step)
    svs = [top_singular_value(m) for m in weighted(tr.d)]
    assert all(abs(s - 1.0) < 0.05 for s in svs), svs
