"""Metrics that carry their own code (`MetricSpec.compute`): one registration, from a plugin
outside the package, and every run of its data kind logs it and a sweep ranks by it."""

from __future__ import annotations

import pytest
import torch

import ganbench
from ganbench.config import RunConfig
from ganbench.metrics import METRICS, available_metrics
from ganbench.metrics.base import MetricSpec
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train

RING = dict(dataset="ring8", model="mlp", batch_size=32, steps=4, log_every=2, eval_every=2,
            eval_samples=300, device="cpu")


def radius_error(samples, data):
    # mean distance of the samples from the unit circle the ring8 modes sit on
    return float((samples.norm(dim=1) - 1).abs().mean())


@pytest.fixture
def scoped_metrics():
    with METRICS.scoped():
        yield


def test_a_computed_metric_is_logged_at_every_evaluation_on_the_evaluation_samples(
        scoped_metrics):
    seen = []

    def spy(samples, data):
        seen.append((tuple(samples.shape), torch.is_grad_enabled(), data.name))
        return radius_error(samples, data)

    ganbench.register_metric("radius_error", "min", "points", compute=spy, low=0.0)
    assert available_metrics("points")["radius_error"] == "min"  # a sweep may rank by it
    tracker = MemoryTracker()
    cfg = validate(RunConfig(**RING))
    result = train(cfg, tracker=tracker)
    logged = [(s, v) for s, k, v in tracker.metrics if k == "eval/radius_error"]
    assert [s for s, _ in logged] == [2, 4]
    assert seen == [((300, 2), False, "ring8")] * 2
    # the value is the metric of the final generator's samples on the fixed evaluation noise
    z = torch.randn(300, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 7919))
    with torch.no_grad():
        want = radius_error(result.g(z), None)
    assert result.metrics["radius_error"] == pytest.approx(want, rel=1e-6)


def test_a_computed_metric_of_another_kind_is_not_computed(scoped_metrics):
    calls = []
    ganbench.register_metric("image_thing", "max", "images",
                             compute=lambda s, d: calls.append(1) or 0.0)
    result = train(validate(RunConfig(**RING)))
    assert calls == [] and "image_thing" not in result.metrics


def test_compute_is_a_function_and_never_beside_an_evaluator_entry():
    with pytest.raises(ValueError, match="compute must be a function"):
        MetricSpec("x", "max", "points", compute="not code")
    with pytest.raises(ValueError, match="computed by its evaluator"):
        MetricSpec("y", "max", "images", entry="fid", compute=lambda s, d: 0.0)


PLUGIN = '''
import ganbench


def spread(samples, data):
    """The samples' standard deviation around their mean: a toy score."""
    return float(samples.std(dim=0).mean())


ganbench.register_metric("spread", "max", "points", compute=spread, low=0.0)
'''


def test_a_metric_plugin_outside_the_package_ranks_a_sweep(tmp_path, scoped_metrics,
                                                            monkeypatch):
    plugin = tmp_path / "elsewhere" / "my_metric.py"
    plugin.parent.mkdir()
    plugin.write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    spec = {"name": "ranked-by-plugin", "plugins": [str(plugin)],
            "base": {k: v for k, v in RING.items() if k != "device"},
            "tricks": {"label_smoothing": ["off", "on"]}, "seeds": 2,
            "metric": {"name": "spread", "goal": "max"}}
    report = ganbench.sweep(spec, results=tmp_path / "res")
    ranked = report.groups[0].ranked
    assert sorted(ranked["cell"]) == ["baseline", "ls"]
    runs = ganbench.load_runs("ranked-by-plugin", results=tmp_path / "res")
    assert len(runs) == 4 and runs["spread"].notna().all() and (runs["spread"] > 0).all()
    md = (tmp_path / "res" / "ranked-by-plugin" / "report.md").read_text()
    assert "spread" in md
