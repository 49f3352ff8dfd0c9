"""Every shipped benchmark file loads and plans (a typo there would greet a user first)."""

from pathlib import Path

import pytest
import yaml

from ganbench.specs.load import load_run_config
from ganbench.sweep.runner import load_plan

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
FILES = sorted(BENCH.glob("*.yaml"))


def test_benchmarks_exist():
    names = {p.stem for p in FILES}
    assert {"quickstart", "ring8-canon", "grid25-canon", "mnist-dcgan",
            "fashion-mnist-dcgan"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_benchmark_file_is_valid_and_states_its_cost(path):
    text = path.read_text()
    assert "cost" in text.lower() or "min" in text.lower() or " s " in text
    if "metric" in yaml.safe_load(text):  # a sweep file
        p = load_plan(path, data="skip")  # valid as a file; its data may not be here (CIFAR)
        assert p.runs and len(p.runs) == len(p.cells) * len(p.spec.seed_list)
    else:
        assert load_run_config(path).steps > 0


def test_canon_sweeps_cover_every_trick_valid_for_their_data():
    from ganbench.tricks import TRICKS

    ring = set(load_plan(BENCH / "ring8-canon.yaml").spec.tricks)
    images = set(load_plan(BENCH / "mnist-dcgan.yaml").spec.tricks)
    every = {n for n in TRICKS.names()
             if not TRICKS.get(n).conditional_only and TRICKS.get(n).canon}
    assert images == every
    assert ring == every - {"diffaugment", "consistency", "ada"}


def test_the_sweep_timeline_times_functions_that_exist():
    """benchmarks/perf/timeline_sweep.py wraps functions by name; a rename elsewhere made
    every worker of it crash (SeedRun was Seed) and nothing noticed."""
    import importlib
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "perf" / "timeline_sweep.py"
    spec = importlib.util.spec_from_file_location("timeline_sweep", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    missing = []
    for module, name in [*mod.WORKER, *mod.CONTROLLER]:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if not callable(obj):
            missing.append(f"{module}.{name}")
    assert not missing, missing
