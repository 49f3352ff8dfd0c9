"""WGAN-GP's gradient penalty (Gulrajani et al. 2017): the term, its weight, exact
values on a linear D, the one-sided variant and the batch-norm caveat."""

from __future__ import annotations

import pytest
import torch
from helpers.tricks import small
from torch import nn

from ganbench.config import RunConfig
from ganbench.specs.run import caveats, validate
from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train
from ganbench.tricks import TRICKS
from ganbench.tricks.base import StepContext


def test_gradient_penalty_adds_a_positive_gp_term(tmp_path):
    terms = Trainer(small(tmp_path, tricks={"gradient_penalty": {}})).d_step(0)
    assert set(terms) == {"adv", "gp"}
    assert terms["gp"].ndim == 0 and terms["gp"].item() > 0
    assert terms["gp"].requires_grad  # it must train D, not just be logged


def test_gradient_penalty_scales_with_weight(tmp_path):
    w1 = Trainer(small(tmp_path, seed=5, tricks={"gradient_penalty": {"weight": 1.0}})).d_step(0)
    w10 = Trainer(small(tmp_path, seed=5, tricks={"gradient_penalty": {"weight": 10.0}})).d_step(0)
    assert w10["gp"].item() == pytest.approx(10 * w1["gp"].item(), rel=1e-5)


def _ctx_for(d: nn.Module, n: int = 64) -> StepContext:
    real, fake = torch.randn(n, 2), torch.randn(n, 2) + 3.0
    return StepContext(nn.Identity(), d, real, fake, d(real), d(fake), step=0)


@pytest.mark.parametrize("norm,one_sided,expected", [
    (0.5, False, 10 * 0.5**2),  # ||grad|| = 0.5 everywhere: (0.5 - 1)^2
    (0.5, True, 0.0),  # norms below 1 are not penalised one-sidedly
    (2.0, False, 10 * 1.0**2),
    (2.0, True, 10 * 1.0**2),  # above 1 both variants agree
])
def test_gradient_penalty_on_a_linear_d_is_exact(norm, one_sided, expected):
    linear = nn.Linear(2, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.6, 0.8]]) * norm)  # ||w|| = norm
    d = nn.Sequential(linear, nn.Flatten(0))  # (B, 2) -> (B,) logits
    cls = TRICKS.get("gradient_penalty")
    gp = cls(cls.Params(one_sided=one_sided)).d_terms(_ctx_for(d))["gp"]
    assert gp.item() == pytest.approx(expected, abs=1e-4)


def test_one_sided_gradient_penalty_is_zero_for_a_spectrally_normalised_d(tmp_path):
    # SN makes the MLP D (far less than) 1-Lipschitz: no gradient norm exceeds 1.
    one = Trainer(small(tmp_path, tricks={"spectral_norm": {},
                                          "gradient_penalty": {"one_sided": True}})).d_step(0)
    two = Trainer(small(tmp_path, tricks={"spectral_norm": {},
                                          "gradient_penalty": {"one_sided": False}})).d_step(0)
    assert one["gp"].item() == 0.0
    assert two["gp"].item() > 0.0


def test_gradient_penalty_batch_norm_caveat():
    with_bn = validate(RunConfig(d_norm="batch", tricks={"gradient_penalty": {}}))
    found = caveats(with_bn)
    assert [(f.kind, f.trick) for f in found] == [("caveat", "gradient_penalty")]
    assert "batch" in found[0].message and found[0].suggestion == "d_norm: layer"
    assert caveats(validate(RunConfig(d_norm="layer", tricks={"gradient_penalty": {}}))) == []
    assert caveats(validate(RunConfig(d_norm="none", tricks={"gradient_penalty": {}}))) == []


def test_gradient_penalty_caveat_uses_the_models_default_d_norm():
    # dcgan28's D defaults to batch norm; an unset d_norm must be resolved before checking.
    cfg = validate(RunConfig(dataset="tiny-images", model="dcgan28",
                             tricks={"gradient_penalty": {}}))
    assert cfg.d_norm == "batch"
    assert [f.trick for f in caveats(RunConfig(dataset="tiny-images", model="dcgan28",
                                               tricks={"gradient_penalty": {}}))] == [
        "gradient_penalty"]


def test_gradient_penalty_caveat_is_recorded_by_train(tmp_path):
    tracker = MemoryTracker()
    result = train(small(tmp_path, d_norm="batch", tricks={"gradient_penalty": {}}),
                   tracker=tracker)
    assert result.status == "finished"
    assert [f.trick for f in result.caveats] == ["gradient_penalty"]
    assert "gradient_penalty" in tracker.tags["caveats"]
    assert tracker.history("train/d/gp")
