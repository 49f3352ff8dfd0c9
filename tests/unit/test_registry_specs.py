"""The spec contract, parametrised over every registered model, dataset, loss and metric (a
new entry is picked up with no edit): its fields are valid, a model builds and its D's
declared features work, a model's options are None or a closed schema whose defaults build,
a stackable model really stacks, and the checks that used to name models and datasets
(validate's probes, the vectorised trainer) read the specs instead."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers.data import TINY_IMAGES
from pydantic import BaseModel

from ganbench.config import ConfigError, RunConfig
from ganbench.data import DATASETS, Dataset, DatasetSpec
from ganbench.losses import LOSSES, Loss
from ganbench.metrics import METRICS, MetricSpec, available_metrics, metric_goal, register_metric
from ganbench.models import MODELS, ModelSpec, register_model
from ganbench.specs.run import check_run, pair_matrix, probe_pair, trick_conditions, validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.seed import SeedRun
from ganbench.train.vectorised import can_vectorise, train_vectorised


def data_shape(spec: ModelSpec) -> tuple[int, ...]:
    if spec.data_kind == "points":
        return DATASETS.get(probe_pair("points")[0]).shape
    side = spec.image_size or 28
    return (1, side, side)


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("name", MODELS.names())
def test_model_spec_fields_are_valid(name):
    spec = MODELS.get(name)
    assert spec.name == name and isinstance(spec, ModelSpec)
    assert spec.data_kind in ("points", "images")
    assert spec.z_dim > 0 and spec.d_norm in ("batch", "layer", "none")
    assert spec.image_size is None or spec.image_size > 0
    assert isinstance(spec.stackable, bool) and (spec.features is None or callable(spec.features))
    assert isinstance(spec.bounded_output, bool)


def narrow(spec: ModelSpec) -> dict:
    """Narrow widths for models whose spec makes them configurable (the papers' ResNets
    take seconds per step on CPU)."""
    if spec.widths is None:
        return {}
    return {"g_width": 4 * spec.width_multiple[0], "d_width": 4 * spec.width_multiple[1]}


@pytest.mark.parametrize("name", MODELS.names())
def test_model_builds_and_its_declared_features_work(name):
    spec = MODELS.get(name)
    shape = data_shape(spec)
    torch.manual_seed(0)
    g, d = spec.build(spec.z_dim, shape, spec.d_norm, **narrow(spec))
    x = g(torch.randn(4, spec.z_dim))
    assert x.shape == (4, *shape)
    assert d(x).shape == (4,)
    if spec.features is None:
        return
    f = spec.features(d, x)
    assert f.shape[0] == 4 and f.flatten(1).shape[1] > 0
    f.flatten(1).mean(0).square().sum().backward()  # feature matching's gradient reaches G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())


@pytest.mark.parametrize("name", MODELS.names())
def test_model_options_are_none_or_a_closed_schema_whose_defaults_build(name):
    spec = MODELS.get(name)
    if spec.options is None:
        assert spec.checked_options({}) == {}
        return
    assert issubclass(spec.options, BaseModel)
    assert spec.options.model_config.get("extra") == "forbid"
    defaults = spec.checked_options({})  # every option has a default
    assert spec.changed_options(defaults) == {}  # so a plain name keeps its run key
    shape = data_shape(spec)
    torch.manual_seed(0)
    g, d = spec.build(spec.z_dim, shape, spec.d_norm, **defaults, **narrow(spec))
    assert d(g(torch.randn(4, spec.z_dim))).shape == (4,)


def _steps_taken(cfg: RunConfig, result) -> dict[str, torch.Tensor]:
    """What training changed in each parameter of G and D: result minus the run's init."""
    init = SeedRun(cfg)  # builds the nets exactly as the run did (same global seed)
    out = {}
    for net, start in (("g", init.g), ("d", init.d)):
        before = dict(start.named_parameters())
        for k, p in getattr(result, net).named_parameters():
            out[f"{net}.{k}"] = p.detach().double() - before[k].detach().double()
    return out


@pytest.mark.parametrize("name", [n for n in MODELS.names() if MODELS.get(n).stackable])
def test_a_stackable_model_really_stacks(name, tmp_path, monkeypatch):
    # The thorough equality tests (every trick, both dtypes, batch norm) are
    # test_vectorised.py's; this holds every model that says it stacks to it: each stacked
    # seed takes its lone run's steps, in float64. (In float32 Adam's first steps are about
    # lr * sign(gradient), so the rounding of near-zero gradients flips whole steps: on one
    # Intel CPU 81% of dcgan64's elements differed, 15% of the steps' norm, though both
    # sides compute the same thing; float64 agrees to 1e-10.)
    spec = MODELS.get(name)
    points = spec.data_kind == "points"
    dataset = probe_pair("points")[0] if points else TINY_IMAGES
    base = dict(dataset=dataset, model=name, batch_size=4, steps=2, log_every=1,
                eval_every=0, eval_samples=64, device="cpu", data_root=tmp_path,
                **narrow(spec))
    cfgs = [validate(RunConfig(**base, seed=s)) for s in (0, 1)]
    old, sample = torch.get_default_dtype(), Dataset.sample
    monkeypatch.setattr(Dataset, "sample",
                        lambda self, n, generator=None: sample(self, n, generator).double())
    torch.set_default_dtype(torch.float64)
    try:
        alone = [train(c, MemoryTracker()) for c in cfgs]
        stacked = train_vectorised(cfgs)
        steps = [(_steps_taken(c, a), _steps_taken(c, b))
                 for c, a, b in zip(cfgs, alone, stacked, strict=True)]
    finally:
        torch.set_default_dtype(old)
    for (lone, stack), b in zip(steps, stacked, strict=True):
        assert b.steps_done == 2 and list(lone) == list(stack)
        a_all = torch.cat([v.flatten() for v in lone.values()])
        b_all = torch.cat([v.flatten() for v in stack.values()])
        assert a_all.norm() > 0
        assert (b_all - a_all).norm() <= 1e-7 * a_all.norm()


def test_the_spec_not_a_name_list_decides_stacking(tmp_path):
    cfg = RunConfig(dataset="ring8", model="mlp")
    assert can_vectorise(cfg) is None
    with MODELS.scoped():
        register_model(replace(MODELS.get("mlp"), name="mlp_unstacked", stackable=False))
        reason = can_vectorise(RunConfig(dataset="ring8", model="mlp_unstacked"))
    assert "model 'mlp_unstacked'" in reason and "stackable: " in reason
    assert "unknown model 'nope'" in can_vectorise(RunConfig(model="nope"))


def test_feature_matching_on_a_model_without_features_is_a_one_line_config_error():
    with MODELS.scoped():
        register_model(replace(MODELS.get("mlp"), name="featureless", features=None))
        with pytest.raises(ConfigError) as info:
            validate(RunConfig(model="featureless", tricks={"feature_matching": {}}),
                     "run.yaml")
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and msg.startswith("run.yaml:")
    assert "model 'featureless' declares no D features" in msg


def test_feature_matching_reads_the_features_the_spec_declares(tmp_path):
    calls = []

    def head_input(d, x):  # another feature layer than body(x), to see it is the one used
        calls.append(x.shape[0])
        return d.mbstd(d.body(x))

    with MODELS.scoped():
        register_model(replace(MODELS.get("mlp"), name="mlp_feats", features=head_input))
        cfg = validate(RunConfig(model="mlp_feats", steps=2, batch_size=8, log_every=1,
                                 eval_every=0, device="cpu", data_root=tmp_path,
                                 tricks={"feature_matching": {}}))
        assert train(cfg).status == "finished"
    assert calls and set(calls) == {8}  # reals and fakes of each G step, through the spec


# ------------------------------------------------------------------ datasets


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_spec_fields_are_valid(name):
    spec = DATASETS.get(name)
    assert isinstance(spec, DatasetSpec) and spec.name == name and callable(spec.load)
    assert spec.kind in ("points", "images")
    if getattr(spec.load, "__module__", "").startswith("ganbench."):
        # Ours declare all; a loader registered the old way (a bare function) may leave its
        # shape unknown until loaded.
        assert spec.shape is not None and spec.source, "a built-in declares shape and source"
    if spec.shape is not None:
        assert spec.kind != "points" or len(spec.shape) == 1  # (2,) mixtures, (1,) dirac
        assert spec.kind != "images" or len(spec.shape) == 3
    assert spec.classes is None or spec.classes >= 1
    assert spec.classifier is None or spec.kind == "images"


@pytest.mark.parametrize("name", [n for n in DATASETS.names()
                                  if DATASETS.get(n).kind == "points" or n == TINY_IMAGES])
def test_a_dataset_loads_as_its_spec_says(name):
    # Synthetic sets only (the image sets need their files; test_stacked_mnist.py and
    # test_fidelity.py load those).
    spec = DATASETS.get(name)
    data = spec(Path("/nonexistent"))
    assert (data.name, data.kind) == (name, spec.kind)
    assert spec.shape is None or data.shape == spec.shape
    if spec.kind == "points" and spec.classes is not None:
        assert len(data.modes) == spec.classes


def test_bad_dataset_specs_are_refused():
    load = DATASETS.get("ring8").load
    with pytest.raises(ValueError, match="kind must be"):
        DatasetSpec("x", "video", load)
    with pytest.raises(ValueError, match="shape must be"):
        DatasetSpec("x", "points", load, shape=(0,))
    with pytest.raises(ValueError, match="load must be callable"):
        DatasetSpec("x", "points", "ring8.csv")


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_is_named_and_finite(name):
    cls = LOSSES.get(name)
    assert issubclass(cls, Loss) and cls.name == name
    loss = cls()
    torch.manual_seed(0)
    real, fake = torch.randn(16) * 30, torch.randn(16) * 30  # large logits: still stable
    ones, zeros = torch.ones(16), torch.zeros(16)
    assert math.isfinite(loss.d_loss(real, fake, ones, zeros).item())
    g = loss.g_loss(fake, real) if loss.g_uses_real else loss.g_loss(fake)
    assert math.isfinite(g.item())


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_spec_fields_are_valid_and_its_names_resolve(name):
    spec = METRICS.get(name)
    assert isinstance(spec, MetricSpec) and spec.name == name
    assert spec.goal in ("min", "max") and spec.data_kind in ("points", "images")
    if spec.counted_by is None:
        assert metric_goal(name) == spec.goal
        if spec.on_request:  # logged by the runs that list it, and no others
            asked = type("Asked", (), {"extra_metrics": [name]})()
            assert available_metrics(spec.data_kind, asked)[name] == spec.goal
            assert name not in available_metrics(spec.data_kind)
        elif spec.entry is None and spec.datasets is None:  # logged by every run of its kind
            assert available_metrics(spec.data_kind)[name] == spec.goal
        for dataset in spec.datasets or ():  # by the runs on its datasets, and no others
            assert DATASETS.get(dataset).kind == spec.data_kind
            assert available_metrics(spec.data_kind, RunConfig(dataset=dataset))[name] == \
                spec.goal
            assert name not in available_metrics(spec.data_kind)
        return
    for n, label in ((10_000, "10k"), (2500, "2500")):
        assert metric_goal(f"{name}{label}") == spec.goal
        cfg = RunConfig(dataset=TINY_IMAGES, model="dcgan28", image_metrics=[spec.entry],
                        **{spec.counted_by: n})
        assert available_metrics("images", cfg)[f"{name}{label}"] == spec.goal


def test_bad_metric_specs_are_refused():
    with pytest.raises(ValueError, match="goal must be"):
        MetricSpec("x", "up", "points")
    with pytest.raises(ValueError, match="may not end in a digit"):
        MetricSpec("fid50", "min", "images", entry="fid", counted_by="fid_samples")
    with pytest.raises(ValueError, match="needs its entry"):
        MetricSpec("x", "min", "images", counted_by="fid_samples")


# ------------------------------------------------------------------ probes from the specs


@pytest.mark.parametrize("kind", ["points", "images"])
def test_probe_pair_is_a_registered_pair_of_the_kind(kind):
    dataset, model = probe_pair(kind)
    assert DATASETS.get(dataset).kind == kind and MODELS.get(model).data_kind == kind
    assert not [f for f in check_run(RunConfig(dataset=dataset, model=model))
                if f.trick == "model"]


def test_probes_prefer_the_config_defaults_then_built_ins():
    assert probe_pair("points") == (RunConfig().dataset, RunConfig().model)
    with MODELS.scoped(), DATASETS.scoped():
        # Names sorting first, but a plugin's: the built-ins stay the probes.
        from ganbench.registry import BUILT_IN, origin

        with origin("some.plugin"):
            register_model(replace(MODELS.get("dcgan28"), name="aaa_images"))
            DATASETS.register(replace(DATASETS.get("mnist"), name="aaa_digits"))
        first = min(n for n, spec in DATASETS.items() if spec.kind == "images"
                    and DATASETS.origin_of(n) == BUILT_IN)
        assert probe_pair("images") == (first, "dcgan28") and first != "aaa_digits"
        assert "aaa_images" in check_run(RunConfig(dataset="mnist", model="mlp"))[0].suggestion


def test_the_model_mismatch_suggests_the_registered_models_of_the_kind():
    (f,) = [f for f in check_run(RunConfig(dataset="ring8", model="dcgan28"))
            if f.trick == "model"]
    fits = [n for n in MODELS.names() if MODELS.get(n).data_kind == "points"]
    assert f.suggestion == f"use model: {' or '.join(fits)} for points data"


def test_probing_helpers_still_work_from_the_registries():
    names, verdicts = pair_matrix()
    assert verdicts[("consistency", "consistency")] == "conflict"  # 2-D probe: images only
    conds = dict((c, str(f)) for c, f in trick_conditions("diffaugment"))
    assert "'ring8' is 2-D points" in conds["always"]


# ------------------------------------------------------------------ image_metrics entries


def test_image_metrics_are_checked_against_the_metric_registry(tmp_path):
    from ganbench.specs.load import load_run_config

    f = tmp_path / "run.yaml"
    f.write_text(f"dataset: {TINY_IMAGES}\nmodel: dcgan28\nsteps: 2\n"
                 "image_metrics:\n  - kid\n  - fdi\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(f)
    msg = str(info.value)
    assert f"{f}:4: image_metrics: unknown image metric 'fdi'; did you mean 'fid'?" in msg
    for entry in ("cis", "fid", "isc", "kid", "labels", "prc"):
        assert entry in msg  # the known entries come from the registry's specs


def test_image_metrics_order_and_repeats_do_not_change_the_run():
    from ganbench.specs.plan import canonical

    a = RunConfig(dataset=TINY_IMAGES, model="dcgan28", image_metrics=["cis", "kid", "fid"])
    b = RunConfig(dataset=TINY_IMAGES, model="dcgan28", image_metrics=["fid", "cis", "kid",
                                                                       "fid"])
    assert a.image_metrics == b.image_metrics == ["fid", "kid", "cis"]
    assert canonical(a) == canonical(b)


def test_a_plugin_metric_may_not_claim_an_image_metrics_entry():
    # Nothing would compute it: the config check would pass and the run fail mid-way.
    with METRICS.scoped():
        with pytest.raises(ValueError, match="leaves it unset"):
            register_metric(MetricSpec("myfd", "min", "images", entry="myfd",
                                       counted_by="fid_samples"))
        assert "myfd" not in METRICS
        register_metric(MetricSpec("myfd", "min", "images"))  # logged by its own hook
        assert METRICS.origin_of("myfd") != "built-in"


def test_entry_is_allowed_only_inside_the_built_in_scope():
    # Said, not guessed from the caller's module: code that merely lives in a module named
    # ganbench.* may not set `entry`, and a plugin's scope refuses it as before.
    from ganbench.registry import BUILT_IN, origin

    spec = MetricSpec("zz_fd", "min", "images", entry="fid", counted_by="fid_samples")
    with METRICS.scoped():
        posing = {"__name__": "ganbench.metrics.posing", "register_metric": register_metric,
                  "spec": spec}
        with pytest.raises(ValueError, match="leaves it unset"):
            exec("register_metric(spec)", posing)
        with origin("some.plugin"), pytest.raises(ValueError, match="leaves it unset"):
            register_metric(spec)
        assert "zz_fd" not in METRICS
        with origin(BUILT_IN):
            register_metric(spec)
        assert METRICS.origin_of("zz_fd") == BUILT_IN
        assert METRICS.get("zz_fd").entry == "fid"


def test_metric_origins():
    from ganbench.api import list_metrics
    from ganbench.registry import BUILT_IN, USER, origin

    for name in ("fid", "label_modes", "modes", "dirac_dist"):  # every module of built-ins
        assert METRICS.origin_of(name) == BUILT_IN
    with METRICS.scoped():
        register_metric("zz_mine", "max")
        with origin("some.plugin"):
            register_metric("zz_theirs", "min")
        assert METRICS.origin_of("zz_mine") == USER
        assert METRICS.origin_of("zz_theirs") == "some.plugin"
        assert list_metrics("zz_*", origin="plugin") == ["zz_mine", "zz_theirs"]
        assert list_metrics("zz_*", origin="built-in") == []
        with pytest.raises(ValueError, match="metric 'modes' from user code is already "
                           "registered by built-in"):
            register_metric("modes", "max")
