"""Class-conditional GANs (cGAN-PD, Miyato & Koyama 2018): labels reach G's conditional
batch norm and D's projection through the step's binding, the D step's reals are of
uniformly drawn classes and its fakes are generated for them, evaluation draws labels
uniformly (from a hash of z), and the bad inputs are one-line errors."""

from __future__ import annotations

import pytest
import torch
from helpers.data import TINY_CLASSES, TINY_IMAGES, TINY_LABELLED
from scipy import stats

from ganbench.config import ConfigError, RunConfig
from ganbench.data.base import DATASETS, Dataset, DatasetSpec, register_dataset
from ganbench.models import MODELS
from ganbench.models.conditional import ConditionalBatchNorm2d, bind_labels, labels_from_z
from ganbench.specs.load import load_run_config
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.loop import Trainer
from ganbench.train.vectorised import can_vectorise

WIDTHS = {"g_width": 2, "d_width": 4}


def cond_cfg(tmp_path, **kw) -> RunConfig:
    base = dict(dataset=TINY_LABELLED, model="sngan32", conditional=True, steps=3,
                batch_size=8, device="cpu", log_every=1, eval_samples=16, loss="hinge",
                data_root=tmp_path, **WIDTHS)
    return validate(RunConfig(**{**base, **kw}))


def nets(name="sngan32", n_classes=3):
    spec = MODELS.get(name)
    return spec.build(128, (3, 32, 32), "none", n_classes=n_classes, g_width=8, d_width=8)


# ------------------------------------------------------------------ the nets read the labels


def test_the_projection_adds_the_embedding_of_the_label_times_the_features():
    torch.manual_seed(0)
    _, d = nets()
    x = torch.randn(6, 3, 32, 32)
    y1, y2 = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 2, 1, 0, 0, 2])
    with bind_labels([d], y1):
        out1 = d(x)
    with bind_labels([d], y2):
        out2 = d(x)
    same = y1 == y2
    assert torch.equal(out1[same], out2[same]) and (out1[~same] != out2[~same]).all()
    h = d.pooled(x)
    expected = ((d.head.embed(y1) - d.head.embed(y2)) * h).sum(1)
    torch.testing.assert_close(out1 - out2, expected)


@pytest.mark.parametrize("name", ["sngan32", "sndcgan32"])
def test_conditional_batch_norm_makes_g_depend_on_the_label(name):
    torch.manual_seed(0)
    g, _ = nets(name)
    with torch.no_grad():  # at init every class's gain is 1 and bias 0: make them differ
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.bias.normal_()
    z = torch.randn(4, 128).repeat(2, 1)
    with bind_labels([g], torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])):
        x = g(z)
    assert not torch.allclose(x[:4], x[4:])
    # With no labels bound, G takes them from the hash of z.
    with bind_labels([g], labels_from_z(z, 3)):
        bound = g(z)
    torch.testing.assert_close(g(z), bound)


def test_a_conditional_d_called_with_no_labels_says_so():
    _, d = nets()
    with pytest.raises(RuntimeError, match="no labels bound"):
        d(torch.randn(2, 3, 32, 32))
    with bind_labels([d], torch.tensor([0, 1, 2])), pytest.raises(RuntimeError, match="2 inputs"):
        d(torch.randn(2, 3, 32, 32))
    assert d.bound is None  # the binding ends with its block


# ------------------------------------------------------------------ labels without a step


@pytest.mark.parametrize("k", [2, 7, 10, 1000])
def test_labels_from_z_are_uniform_by_simulation(k):
    z = torch.randn(50 * k if k > 10 else 20_000, 128, generator=torch.Generator().manual_seed(k))
    counts = torch.bincount(labels_from_z(z, k), minlength=k)
    assert len(counts) == k
    assert stats.chisquare(counts.numpy()).pvalue > 1e-4


def test_labels_from_z_are_independent_of_z_and_deterministic():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(20_000, 64, generator=gen)
    y = labels_from_z(z, 10)
    assert torch.equal(y, labels_from_z(z.clone(), 10))
    # Each class's mean of each coordinate is N(0, 1/n_k) when y is independent of z.
    worst = max(float(z[y == c].mean(0).abs().max() * (y == c).sum().sqrt()) for c in range(10))
    assert worst < 5.0  # max of 640 |N(0, 1)|: above 5 with probability ~4e-4
    # ... and their spread too (a class tied to large |z| would show here).
    var = torch.stack([z[y == c].var(0) for c in range(10)])
    assert (var - 1).abs().max() < 0.15


def test_evaluation_draws_labels_uniformly(tmp_path):
    tr = Trainer(cond_cfg(tmp_path))
    seen = []
    cbn = next(m for m in tr.g.modules() if isinstance(m, ConditionalBatchNorm2d))
    cbn.register_forward_hook(lambda mod, args, out: seen.append(args[1]))
    with torch.no_grad():
        tr.eval_g(tr.eval_z(2000))
    counts = torch.bincount(torch.cat(seen), minlength=TINY_CLASSES)
    assert stats.chisquare(counts.numpy()).pvalue > 1e-4


# ------------------------------------------------------------------ labels in the step


def test_the_d_step_binds_one_label_vector_the_g_step_another(tmp_path):
    tr = Trainer(cond_cfg(tmp_path, tricks={"gradient_penalty": {}, "consistency": {}}))
    calls = []
    tr.g.register_forward_pre_hook(lambda mod, args: calls.append(("g", mod.bound)))
    tr.d.register_forward_pre_hook(lambda mod, args: calls.append(("d", mod.bound)))
    tr.d_step(0)
    # G's fakes, D on reals and fakes, the penalty's interpolates, bCR's two copies.
    assert [n for n, _ in calls] == ["g", "d", "d", "d", "d", "d"]
    y = calls[0][1]
    assert y is not None and y.shape == (8,) and all(b is y for _, b in calls)
    calls.clear()
    tr.g_step(0)
    assert [n for n, _ in calls] == ["g", "d"]
    assert calls[0][1] is calls[1][1] is not y and calls[0][1].shape == (8,)
    assert tr.g.bound is None and tr.d.bound is None


def test_real_batches_are_of_uniformly_drawn_classes_and_show_them(tmp_path):
    tr = Trainer(cond_cfg(tmp_path))
    x, y = tr.real_labelled(4000)
    # tiny-labelled's class k is 60k + noise in [0, 64): its mean pixel gives the class.
    pixel = (x.flatten(1).mean(1) + 1) * 127.5
    assert torch.equal(((pixel - 31.5) / 60).round().long(), y)
    assert stats.chisquare(torch.bincount(y).numpy()).pvalue > 1e-4


def test_class_balanced_sampling_of_an_imbalanced_set():
    labels = torch.tensor([0] * 90 + [1] * 10)
    images = labels.to(torch.uint8).mul(255)[:, None, None, None].expand(100, 1, 2, 2)
    data = Dataset("imbalanced", "images", "test", images=images.contiguous(), labels=labels)
    x, y = data.sample_labelled(20_000, torch.Generator().manual_seed(0))
    assert torch.equal((x[:, 0, 0, 0] > 0).long(), y)
    assert abs(float(y.float().mean()) - 0.5) < 4 * 0.5 / 20_000 ** 0.5


@pytest.mark.parametrize("model", ["sngan32", "sndcgan32"])
def test_conditional_models_train_with_sn_gp_diffaugment_and_ema(tmp_path, model):
    tracker = MemoryTracker()
    cfg = cond_cfg(tmp_path, model=model, tricks={"spectral_norm": {}, "gradient_penalty": {},
                                                  "diffaugment": {}, "ema": {}},
                   **({"g_width": 8, "d_width": 4} if model == "sndcgan32" else {}))
    result = train(cfg, tracker)
    assert result.status == "finished" and result.steps_done == 3
    assert {"train/d/gp", "train/g/adv"} <= {k for _, k, _ in tracker.metrics}


def test_unconditional_stays_the_default_and_draws_no_labels(tmp_path):
    cfg = validate(RunConfig(dataset=TINY_LABELLED, model="sngan32", device="cpu",
                             data_root=tmp_path, batch_size=4, **WIDTHS))
    assert cfg.conditional is False
    tr = Trainer(cfg)
    assert tr.real_labelled(4)[1] is None and tr.fake_labels(4) is None
    assert tr.d.head.embed is None


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kw,match", [
    ({"dataset": TINY_IMAGES}, r"conditional: dataset 'tiny-images' has no class labels"),
    ({"model": "dcgan28", "g_width": None, "d_width": None},
     r"conditional: model 'dcgan28' has no class-conditional variant.*sngan32"),
    ({"tricks": {"pack": {"m": 2}}}, r"conflict: pack: a packed D input holds m samples"),
])
def test_conditional_without_labels_or_a_variant_is_a_one_line_error(tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match) as e:
        cond_cfg(tmp_path, **kw)
    assert len(str(e.value).splitlines()) == 1


def test_each_problem_is_a_line_of_its_own(tmp_path):
    with pytest.raises(ConfigError) as e:
        cond_cfg(tmp_path, dataset="ring8", model="mlp", g_width=None, d_width=None)
    assert [line.split(": ")[2:4] for line in str(e.value).splitlines()] == [
        ["conditional", "model 'mlp' has no class-conditional variant (suggestion"],
        ["conditional", "dataset 'ring8' has no class labels (suggestion"]]


def test_the_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: tiny-images\nmodel: sngan32\nconditional: true\n")
    with pytest.raises(ConfigError) as e:
        load_run_config(path)
    assert str(e.value).startswith(f"{path}:3: conflict: conditional: dataset 'tiny-images'")


def test_a_labelled_dataset_that_loads_without_labels_is_refused_before_training(tmp_path):
    with DATASETS.scoped():
        register_dataset(DatasetSpec("says-labelled", "images", lambda root: Dataset(
            "says-labelled", "images", "test",
            images=torch.zeros(8, 3, 32, 32, dtype=torch.uint8)), classes=2, labelled=True))
        with pytest.raises(ValueError, match="conditional: dataset 'says-labelled' .* has "
                                             "no class labels"):
            Trainer(cond_cfg(tmp_path, dataset="says-labelled"))


def test_a_class_without_images_is_refused(tmp_path):
    with DATASETS.scoped():
        register_dataset(DatasetSpec("gap", "images", lambda root: Dataset(
            "gap", "images", "test", images=torch.zeros(4, 3, 32, 32, dtype=torch.uint8),
            labels=torch.tensor([0, 0, 2, 2])), classes=3, labelled=True))
        with pytest.raises(ValueError, match=r"no images of class\(es\) \[1\] \(of 3\)"):
            Trainer(cond_cfg(tmp_path, dataset="gap"))


def test_conditional_runs_are_not_seed_stacked_and_say_why(tmp_path):
    assert "conditional runs are not supported" in can_vectorise(cond_cfg(tmp_path))


def test_run_samples_show_one_row_per_class(tmp_path):
    from ganbench.outputs import save_samples

    result = train(cond_cfg(tmp_path, steps=1))
    seen = []
    cbn = next(m for m in result.g.modules() if isinstance(m, ConditionalBatchNorm2d))
    cbn.register_forward_hook(lambda mod, args, out: seen.append(args[1]))
    assert save_samples(result, tmp_path / "samples.png").is_file()
    assert torch.equal(seen[0], torch.arange(TINY_CLASSES).repeat_interleave(8))
    assert result.g.bound is None
