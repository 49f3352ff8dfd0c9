"""The pack trick (PacGAN, Lin et al. 2018): D sees m samples concatenated. The generic
trick, pair, resume and vectorised contracts cover it through the registry; these tests pin
what packing itself means."""

from __future__ import annotations

import pytest
import torch

from ganbench.config import ConfigError, RunConfig
from ganbench.specs.run import validate
from ganbench.train import Trainer
from ganbench.tricks import TRICKS
from ganbench.tricks.pack import pack


def small(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=2, batch_size=12, device="cpu", log_every=1, eval_samples=64,
                data_root=tmp_path)
    return validate(RunConfig(**{**base, **overrides}))


def test_pack_groups_consecutive_samples_into_one_row():
    x = torch.arange(12.0).reshape(6, 2)  # sample i is (2i, 2i + 1)
    assert torch.equal(pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    images = torch.randn(4, 1, 5, 5)
    packed = pack(images, 2)
    assert packed.shape == (2, 2, 5, 5)
    assert torch.equal(packed[1, 0], images[2, 0]) and torch.equal(packed[1, 1], images[3, 0])


def test_inputs_and_targets_are_packed_and_real_may_be_absent():
    trick = TRICKS.get("pack")(TRICKS.get("pack").Params(m=4))
    real, fake = trick.d_inputs(torch.randn(8, 2), torch.randn(8, 2), 0)
    assert real.shape == fake.shape == (2, 8)
    none, fake = trick.d_inputs(None, torch.randn(8, 2), 0)  # the G step
    assert none is None and fake.shape == (2, 8)
    # A target trick acts per sample first; a packed row's target is its group's mean.
    real_t, fake_t = trick.d_targets(torch.tensor([1.0, 1, 1, 0, 1, 1, 1, 1]), torch.zeros(8))
    assert torch.equal(real_t, torch.tensor([0.75, 1.0])) and torch.equal(fake_t, torch.zeros(2))


@pytest.mark.parametrize("model,dataset", [("mlp", "ring8"), ("pacgan", "grid25"),
                                         ("dcgan28", "tiny-images")])
@pytest.mark.parametrize("m", [2, 3])
def test_d_is_built_for_m_samples_and_outputs_one_logit_per_packed_input(tmp_path, model,
                                                                         dataset, m):
    tr = Trainer(small(tmp_path, model=model, dataset=dataset, tricks={"pack": {"m": m}}))
    plain = Trainer(small(tmp_path, model=model, dataset=dataset))
    first = next(p for p in tr.d.parameters() if p.dim() > 1)
    first_plain = next(p for p in plain.d.parameters() if p.dim() > 1)
    assert first.shape[1] == m * first_plain.shape[1]  # inputs (or channels) times m
    real, fake = tr.stack.d_inputs(tr.real(12), tr.g(tr.z(12)), 0)
    assert tr.d(real).shape == tr.d(fake).shape == (12 // m,)
    terms = tr.step(0)
    assert all(torch.isfinite(v) for v in terms.values())


def test_batch_size_not_divisible_by_m_is_a_conflict():
    with pytest.raises(ConfigError, match=r"pack.*batch_size 100 is not divisible by m = 3"):
        validate(RunConfig(batch_size=100, tricks={"pack": {"m": 3}}))
    validate(RunConfig(batch_size=99, tricks={"pack": {"m": 3}}))


def test_feature_matching_is_a_conflict():
    # Its real features come from an unpacked batch, which a packed D cannot take.
    with pytest.raises(ConfigError, match="feature_matching"):
        validate(RunConfig(tricks={"pack": {}, "feature_matching": {}}))


def test_a_model_that_cannot_pack_is_a_conflict(monkeypatch):
    from dataclasses import replace

    from ganbench.models import MODELS
    spec = MODELS.get("mlp")
    monkeypatch.setitem(MODELS._items, "mlp", replace(spec, packs_inputs=False))
    with pytest.raises(ConfigError, match="cannot build a packed D"):
        validate(RunConfig(tricks={"pack": {}}))


def test_m_below_two_is_rejected():
    with pytest.raises(ConfigError, match=r"tricks\.pack\.m"):
        validate(RunConfig(tricks={"pack": {"m": 1}}))


def test_gradient_penalty_acts_on_the_packed_input(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"pack": {"m": 2}, "gradient_penalty": {}}))
    terms = tr.d_step(0)
    assert terms["gp"].item() > 0 and terms["gp"].requires_grad
