"""Contract tests for every registered trick and every compatible pair of tricks.

Parametrised from `TRICKS.names()` at collection time, so a newly registered trick is
exercised here without anyone editing this file (optuna's sampler-test pattern). Names
starting with ``test_`` are test-only tricks registered by other test modules and skipped.
"""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
import yaml
from pydantic import ValidationError
from torch import nn

from ganbench.config import ConfigError, RunConfig, load_run_config
from ganbench.tracking import MemoryTracker
from ganbench.train import Trainer, train
from ganbench.tricks import TRICKS, Finding, TrickStack
from ganbench.tricks.base import StepContext
from ganbench.validate import caveats, validate

LOSS_CANDIDATES = ("ns", "hinge")
# Where a trick is exercised: 2-D points first (fast); image-only tricks on tiny images.
CONTEXTS = ({"dataset": "ring8", "model": "mlp"},
            {"dataset": "tiny-images", "model": "dcgan28", "batch_size": 16})


def real_tricks() -> list[str]:
    return [n for n in TRICKS.names() if not n.startswith("test_")]


def first_valid_loss(tricks: dict[str, dict], **cfg) -> str | None:
    """The first loss in LOSS_CANDIDATES for which these tricks validate, else None."""
    for loss in LOSS_CANDIDATES:
        try:
            validate(RunConfig(loss=loss, tricks=tricks,
                               **{k: v for k, v in cfg.items() if k != "batch_size"}))
        except ConfigError:
            continue
        return loss
    return None


def first_valid(tricks: dict[str, dict]) -> dict | None:
    """The first context (data, model, loss) in which these tricks validate, else None."""
    for ctx in CONTEXTS:
        if (loss := first_valid_loss(tricks, **ctx)) is not None:
            return {**ctx, "loss": loss}
    return None


SINGLES = [(name, first_valid({name: {}})) for name in real_tricks()]
PAIRS = [
    ((a, b), ctx)
    for a, b in itertools.combinations(real_tricks(), 2)
    if (ctx := first_valid({a: {}, b: {}})) is not None
]


def small(tmp_path, **overrides) -> RunConfig:
    base = dict(steps=2, batch_size=32, device="cpu", log_every=1, eval_samples=256,
                data_root=tmp_path)
    base.update(overrides)
    return validate(RunConfig(**base))


def assert_finished_with_finite_losses(cfg: RunConfig) -> MemoryTracker:
    tracker = MemoryTracker()
    result = train(cfg, tracker=tracker)
    assert result.status == "finished", (result.diverged_step, result.diverged_term)
    assert result.steps_done == cfg.steps
    assert tracker.tags["status"] == "finished"
    train_metrics = [(s, k, v) for s, k, v in tracker.metrics if k.startswith("train/")]
    assert {k for _, k, _ in train_metrics} >= {"train/d/adv", "train/g/adv"}
    assert sorted({s for s, _, _ in train_metrics}) == list(range(1, cfg.steps + 1))
    bad = [(s, k, v) for s, k, v in train_metrics if not math.isfinite(v)]
    assert not bad
    return tracker


def test_registry_has_the_builtin_tricks():
    assert {"gradient_penalty", "label_smoothing", "spectral_norm", "ttur"} <= set(real_tricks())


def test_every_trick_is_usable_alone_in_some_context():
    unusable = [name for name, ctx in SINGLES if ctx is None]
    assert not unusable, f"tricks that validate in none of {CONTEXTS} x {LOSS_CANDIDATES}"


# ------------------------------------------------------------------ training smoke contracts


@pytest.mark.parametrize("name,ctx", SINGLES, ids=[n for n, _ in SINGLES])
def test_single_trick_trains(tmp_path, name, ctx):
    tracker = assert_finished_with_finite_losses(small(tmp_path, **ctx, tricks={name: {}}))
    # Every named term a trick adds is logged as train/d/<term> or train/g/<term>.
    assert all(k.startswith(("train/d/", "train/g/")) for _, k, _ in tracker.metrics
               if k.startswith("train/"))


@pytest.mark.parametrize("pair,ctx", PAIRS, ids=["+".join(p) for p, _ in PAIRS])
def test_trick_pair_trains(tmp_path, pair, ctx):
    a, b = pair
    assert_finished_with_finite_losses(small(tmp_path, **ctx, tricks={a: {}, b: {}}))


@pytest.mark.parametrize("name", real_tricks())
def test_single_trick_trains_on_tiny_images_dcgan28(tmp_path, name):
    loss = first_valid_loss({name: {}}, dataset="tiny-images", model="dcgan28")
    assert loss is not None
    cfg = small(tmp_path, dataset="tiny-images", model="dcgan28", batch_size=16, loss=loss,
                tricks={name: {}})
    assert_finished_with_finite_losses(cfg)


def test_pairs_cover_every_compatible_combination():
    # ns is compatible with every built-in trick, so no built-in pair may be dropped.
    builtin = ["gradient_penalty", "label_smoothing", "spectral_norm", "ttur"]
    got = {p for p, _ in PAIRS}
    assert {tuple(p) for p in itertools.combinations(builtin, 2)} <= got


# ------------------------------------------------------------------ params and docs contracts


@pytest.mark.parametrize("name", real_tricks())
def test_params_defaults_round_trip_through_yaml(name):
    cls = TRICKS.get(name)
    params = cls.Params()
    text = yaml.safe_dump(params.model_dump())
    again = cls.Params.model_validate(yaml.safe_load(text))
    assert again == params
    assert again.model_dump() == params.model_dump()


@pytest.mark.parametrize("name", real_tricks())
def test_params_defaults_round_trip_through_a_run_file(tmp_path, name):
    cls = TRICKS.get(name)
    ctx = {k: v for k, v in first_valid({name: {}}).items() if k != "batch_size"}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**ctx, "tricks": {name: cls.Params().model_dump()}}))
    cfg = load_run_config(path)
    (trick,) = TrickStack.from_config(cfg).tricks
    assert type(trick) is cls
    assert trick.params == cls.Params()


@pytest.mark.parametrize("name", real_tricks())
def test_unknown_param_keys_are_rejected(name):
    cls = TRICKS.get(name)
    with pytest.raises(ValidationError):
        cls.Params.model_validate({"definitely_not_a_param": 1})
    with pytest.raises(ConfigError, match=rf"tricks\.{name}\.definitely_not_a_param"):
        validate(RunConfig(tricks={name: {"definitely_not_a_param": 1}}))


@pytest.mark.parametrize("name", real_tricks())
def test_params_are_frozen(name):
    params = TRICKS.get(name).Params()
    fields = list(type(params).model_fields)
    if not fields:
        pytest.skip("no parameters")
    with pytest.raises(ValidationError):
        setattr(params, fields[0], getattr(params, fields[0]))


@pytest.mark.parametrize("name", real_tricks())
def test_trick_cites_its_paper(name):
    cls = TRICKS.get(name)
    doc = cls.__doc__ or ""
    assert doc.strip(), f"{cls.__name__} has no docstring"
    assert re.search(r"\b(19|20)\d\d\b", doc), f"{cls.__name__}'s docstring names no year"
    assert isinstance(cls.paper, str) and cls.paper.strip()
    assert cls.name == name


def test_short_labels_are_set_and_unique():
    # Sweep cells are labelled by joining shorts ("sn+gp"): two equal shorts would make two
    # different cells indistinguishable in tables.
    shorts = {name: TRICKS.get(name).short for name in real_tricks()}
    assert all(s and s.strip() == s for s in shorts.values()), shorts
    assert len(set(shorts.values())) == len(shorts), shorts


@pytest.mark.parametrize("name", real_tricks())
def test_check_returns_findings_for_default_run(name):
    cls = TRICKS.get(name)
    ctx = {k: v for k, v in first_valid({name: {}}).items() if k != "batch_size"}
    findings = cls().check(RunConfig(**ctx))
    assert isinstance(findings, list)
    assert all(isinstance(f, Finding) and f.kind in ("conflict", "caveat") for f in findings)
    assert not [f for f in findings if f.kind == "conflict"]


@pytest.mark.parametrize("name", real_tricks())
def test_target_and_input_hooks_do_not_mutate_their_arguments(name):
    trick = TRICKS.get(name)()
    ones, zeros = torch.ones(8), torch.zeros(8)
    trick.d_targets(ones, zeros)
    assert torch.equal(ones, torch.ones(8)) and torch.equal(zeros, torch.zeros(8))
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    real0, fake0 = real.clone(), fake.clone()
    trick.d_inputs(real, fake, 0)
    assert torch.equal(real, real0) and torch.equal(fake, fake0)


# ------------------------------------------------------------------ spectral_norm


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


# ------------------------------------------------------------------ label_smoothing


def test_label_smoothing_targets(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"label_smoothing": {}}))
    real_t, fake_t = tr.stack.d_targets(tr.ones, tr.zeros)
    assert real_t.shape == tr.ones.shape and fake_t.shape == tr.zeros.shape
    assert torch.equal(real_t, torch.full_like(tr.ones, 0.9))
    assert torch.equal(fake_t, torch.zeros_like(tr.zeros))
    custom = Trainer(small(tmp_path, tricks={"label_smoothing": {"real": 0.75}}))
    assert torch.equal(custom.stack.d_targets(custom.ones, custom.zeros)[0],
                       torch.full_like(custom.ones, 0.75))


def test_label_smoothing_changes_the_d_loss_for_the_same_seed(tmp_path):
    plain = Trainer(small(tmp_path, seed=3)).step(0)
    smooth = Trainer(small(tmp_path, seed=3, tricks={"label_smoothing": {}})).step(0)
    assert set(smooth) == set(plain)
    assert smooth["d/adv"].item() != plain["d/adv"].item()
    # Smoothing the real target only raises BCE's floor; D's logits are ~0 at init, so the
    # change must be small (the same nets and data were used).
    assert abs(smooth["d/adv"].item() - plain["d/adv"].item()) < 0.2


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
def test_label_smoothing_conflicts_with_margin_losses(loss):
    with pytest.raises(ConfigError) as info:
        validate(RunConfig(loss=loss, tricks={"label_smoothing": {}}))
    msg = str(info.value)
    assert "label_smoothing" in msg
    assert repr(loss) in msg or loss in msg
    assert "ns" in msg.split("suggestion", 1)[-1]
    assert "conflict" in msg


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_label_smoothing_is_fine_with_cross_entropy_losses(loss):
    cfg = validate(RunConfig(loss=loss, tricks={"label_smoothing": {}}))
    assert caveats(cfg) == []


def test_label_smoothing_with_lsgan_is_a_caveat_not_a_conflict():
    cfg = validate(RunConfig(loss="lsgan", tricks={"label_smoothing": {}}))
    found = caveats(cfg)
    assert [f.trick for f in found] == ["label_smoothing"]
    assert found[0].kind == "caveat"


# ------------------------------------------------------------------ gradient_penalty


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


# ------------------------------------------------------------------ ttur


def test_ttur_default_learning_rates(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"ttur": {}}))
    assert tr.opt_d.param_groups[0]["lr"] == 4e-4
    assert tr.opt_g.param_groups[0]["lr"] == 1e-4
    assert tr.opt_d.param_groups[0]["betas"] == tr.cfg.betas  # TTUR changes rates only


def test_ttur_custom_learning_rates(tmp_path):
    tr = Trainer(small(tmp_path, tricks={"ttur": {"d_lr": 1e-3, "g_lr": 3e-5}}))
    assert tr.opt_d.param_groups[0]["lr"] == 1e-3
    assert tr.opt_g.param_groups[0]["lr"] == 3e-5


def test_without_ttur_both_nets_use_cfg_lr(tmp_path):
    tr = Trainer(small(tmp_path, lr=3e-4))
    assert tr.opt_d.param_groups[0]["lr"] == tr.opt_g.param_groups[0]["lr"] == 3e-4


def test_ttur_rejects_out_of_range_rates():
    with pytest.raises(ConfigError, match=r"tricks\.ttur\.d_lr"):
        validate(RunConfig(tricks={"ttur": {"d_lr": 0}}))
