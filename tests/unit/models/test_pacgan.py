"""The pacgan model: PacGAN's released 2-D nets (Lin et al. 2018), packed D inputs, and
stacked seeds equal to lone runs on it."""

from __future__ import annotations

import pytest
import torch

from ganbench.models import MODELS
from ganbench.models.pacgan import Maxout, PacGANDiscriminator, PacGANGenerator
from ganbench.train.vectorised import can_vectorise

from ..train.test_vectorised import cfgs_of, check_equal  # the vectorised-equality harness


def build(pack: int = 1, minibatch_std: bool = False):
    return MODELS.get("pacgan").build(2, (2,), "none", minibatch_std=minibatch_std, pack=pack)


def test_generator_is_four_hidden_layers_of_400_with_batch_norm_and_relu():
    g, _ = build()
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (2, 400), (400, 400), (400, 400), (400, 400), (400, 2)]
    assert [m.bias is None for m in linears] == [True] * 4 + [False]  # BN follows the four
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == 4
    assert sum(isinstance(m, torch.nn.ReLU) for m in g.modules()) == 4
    assert g(torch.randn(7, 2)).shape == (7, 2)
    assert MODELS.get("pacgan").z_dim == 2


@pytest.mark.parametrize("pack", [1, 2, 3, 4])
def test_discriminator_is_three_maxout_layers_of_200_on_m_times_2_inputs(pack):
    _, d = build(pack)
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.out_dim, m.pieces) for m in maxouts] == [
        (2 * pack, 200, 5), (200, 200, 5), (200, 200, 5)]
    assert d(torch.randn(6, 2 * pack)).shape == (6,)
    assert d.body(torch.randn(6, 2 * pack)).shape == (6, 200)  # features for tricks
    with pytest.raises(RuntimeError):
        d(torch.randn(6, 2 * pack + 1))


def test_maxout_is_the_max_over_consecutive_pieces():
    torch.manual_seed(0)
    layer = Maxout(3, 4, 5)
    x = torch.randn(8, 3)
    full = x @ layer.linear.weight.T + layer.linear.bias  # (8, 20)
    expected = torch.stack([full[:, 5 * u:5 * u + 5].max(1).values for u in range(4)], 1)
    assert torch.equal(layer(x), expected)


def test_weights_are_drawn_with_std_002_and_biases_start_at_zero():
    torch.manual_seed(0)
    g, d = PacGANGenerator(), PacGANDiscriminator("none")
    big = [m for m in (*g.modules(), *d.modules())
           if isinstance(m, torch.nn.Linear) and m.weight.numel() >= 80_000]
    assert big and all(abs(m.weight.std().item() - 0.02) < 0.001 for m in big)
    assert all(not m.bias.any() for m in (*g.modules(), *d.modules())
               if isinstance(m, torch.nn.Linear) and m.bias is not None)


def test_minibatch_std_widens_the_head():
    _, d = build(2, minibatch_std=True)
    assert d.head.in_features == 201
    assert d(torch.randn(8, 4)).shape == (8,)


@pytest.mark.parametrize("tricks", [{}, {"pack": {"m": 3}}], ids=["gan", "pack3"])
def test_stacked_seeds_equal_lone_runs_in_float64(tmp_path, tricks):
    cfgs = cfgs_of(tmp_path, model="pacgan", batch_size=12, steps=6, log_every=2,
                   eval_every=3, tricks=tricks)
    assert can_vectorise(cfgs[0]) is None
    results = check_equal(cfgs, torch.float64)
    assert all(r.status == "finished" for r in results)
