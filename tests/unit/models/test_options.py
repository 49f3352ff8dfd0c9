"""Model options: `model: {name: ..., key: value}` checked against the model's typed schema
(`ModelSpec.options`), passed to its build, and part of a run's key only where they change the
run. The model here is a plugin written outside the package, as a user would write one."""

from __future__ import annotations

import textwrap

import pytest
from helpers.plugins import isolation
from pydantic import BaseModel, ConfigDict
from torch import nn

from ganbench.config import ConfigError, RunConfig
from ganbench.models import MODELS, ModelSpec
from ganbench.models.mlp import build_mlp
from ganbench.specs.load import load_run_config, load_sweep_spec
from ganbench.specs.plan import canonical, digest, plan
from ganbench.specs.run import validate
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.train.seed import SeedRun

PLUGIN = '''
"""A test plugin: tp_net, a 2-D model family whose depth and width are options."""
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ganbench.models.base import ModelSpec, register_model


class TpNetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = Field(2, ge=1, le=8)
    width_mult: float = Field(1.0, gt=0, le=4)


def _mlp(n_in, n_out, depth, width):
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, n_out))


class TpD(nn.Module):
    def __init__(self, n_in, depth, width):
        super().__init__()
        self.net = _mlp(n_in, 1, depth, width)

    def forward(self, x):  # (B, 2) -> (B,)
        return self.net(x).squeeze(1)


def build_tp_net(z_dim, shape, d_norm, depth=2, width_mult=1.0):
    width = max(1, round(16 * width_mult))
    return _mlp(z_dim, shape[0], depth, width), TpD(shape[0], depth, width)


register_model(ModelSpec("tp_net", "points", z_dim=4, image_size=None, d_norm="none",
                         build=build_tp_net, minibatch_std=False, features=None,
                         options=TpNetOptions))
'''

SWEEP = """\
name: mopts
plugins: [./tp_models.py]
base:
  dataset: ring8
  model:
    name: tp_net
    depth: 3
  steps: 3
  batch_size: 16
  log_every: 1
  eval_samples: 64
  device: cpu
seeds: 1
metric: {name: modes, goal: max}
"""


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


def sweep_file(folder, text: str = SWEEP):
    (folder / "tp_models.py").write_text(PLUGIN)
    path = folder / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def linears(net: nn.Module) -> int:
    return sum(isinstance(m, nn.Linear) for m in net.modules())


# ------------------------------------------------------------------ a plugin model with options


def test_a_sweep_plans_and_trains_with_the_options(tmp_path, isolated_plugins):
    spec, _ = load_sweep_spec(sweep_file(tmp_path))
    p = plan(spec)
    cfg = p.runs[0].config
    assert cfg.model == "tp_net" and cfg.model_options == {"depth": 3, "width_mult": 1.0}
    result = train(cfg, MemoryTracker())
    assert result.status == "finished" and result.steps_done == 3
    assert linears(result.g) == linears(result.d) == 3 + 1  # depth hidden layers + output


def test_a_model_axis_of_mappings_makes_one_cell_per_option_set(tmp_path, isolated_plugins):
    text = SWEEP.replace("  model:\n    name: tp_net\n    depth: 3\n", "") + textwrap.dedent("""\
        axes:
          model:
            - mlp
            - {name: tp_net, depth: 1}
            - {name: tp_net, depth: 3, width_mult: 0.5}
        """)
    spec, _ = load_sweep_spec(sweep_file(tmp_path, text))
    p = plan(spec)
    assert [c.config.model_options for c in p.cells] == [
        {}, {"depth": 1, "width_mult": 1.0}, {"depth": 3, "width_mult": 0.5}]
    labels = [c.label for c in p.cells]
    assert len(set(labels)) == 3, labels  # the report tells cells apart by their label
    assert labels[1].endswith("model=tp_net(depth=1)")
    seed = SeedRun(p.cells[2].config)
    assert linears(seed.g) == 4 and seed.g[0].out_features == 8


@pytest.mark.parametrize("model, field, expect", [
    ("{name: tp_net, depht: 3}", "base.model.depht",
     "unknown option of model 'tp_net' (its options: depth, width_mult); did you mean "
     "'depth'?"),
    ("{name: tp_net, depth: deep}", "base.model.depth", "valid integer"),
    ("{name: tp_net, depth: 0}", "base.model.depth", "greater than or equal to 1"),
    ("{name: mlp, depth: 3}", "base.model", "model 'mlp' takes no options (got depth); "
     "write model: mlp"),
    ("{depth: 3}", "base", "model: a mapping needs `name:`"),
])
def test_bad_options_are_one_line_errors_with_file_and_line(tmp_path, isolated_plugins, model,
                                                            field, expect):
    text = SWEEP.replace("  model:\n    name: tp_net\n    depth: 3\n", f"  model: {model}\n")
    path = sweep_file(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1, msg
    line = 3 if field == "base" else 5  # the mapping without a name: the line of base
    assert msg.startswith(f"{path}:{line}: {field}: ") and expect in msg, msg


def test_a_bad_option_in_a_model_axis_names_its_value(tmp_path, isolated_plugins):
    text = SWEEP + "axes:\n  model:\n    - mlp\n    - {name: tp_net, width: 3}\n"
    path = sweep_file(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(path)
    assert str(e.value).startswith(f"{path}:18: axes.model.1.width: unknown option of model "
                                   "'tp_net'"), str(e.value)


def test_a_run_file_takes_the_mapping_too_and_not_both_forms(tmp_path, isolated_plugins):
    (tmp_path / "tp_models.py").write_text(PLUGIN)
    run = tmp_path / "r.yaml"
    run.write_text("plugins: [./tp_models.py]\nmodel: {name: tp_net, width_mult: 2}\n")
    cfg = load_run_config(run)
    assert cfg.model_options == {"depth": 2, "width_mult": 2.0}
    run.write_text("plugins: [./tp_models.py]\nmodel: {name: tp_net, depth: 3}\n"
                   "model_options: {depth: 4}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:\d+: .*not both"):
        load_run_config(run)


# ------------------------------------------------------------------ run identity


def key(raw: dict) -> tuple[str, str]:
    cfg = validate(RunConfig.model_validate(raw))
    return digest(canonical(cfg)), digest(canonical(cfg, with_seed=False))


@pytest.mark.parametrize("raw, expect", [
    # computed before model options existed: the keys of existing runs stay byte-identical
    ({}, ("54a2d670d851", "1f550fc1b6fc")),
    ({"model": "mlp", "dataset": "ring8", "steps": 300, "tricks": {"spectral_norm": {}}},
     ("eae5289b2281", "ce381b71ddff")),
    ({"model": "dcgan28", "dataset": "mnist", "image_metrics": ["fid"], "eval_repeats": 3},
     ("605905066b03", "f38109bc3a3d")),
])
def test_plain_model_names_keep_their_run_keys(raw, expect):
    assert key(raw) == expect
    assert "model_options" not in canonical(validate(RunConfig.model_validate(raw)))


def test_options_are_in_the_key_only_where_they_change_the_run(tmp_path, isolated_plugins):
    (tmp_path / "tp_models.py").write_text(PLUGIN)
    from ganbench.specs import plugins

    plugins.load(["./tp_models.py"], tmp_path)
    plain = key({"model": "tp_net"})
    assert plain == key({"model": {"name": "tp_net", "depth": 2}})  # the defaults, spelt out
    deeper = validate(RunConfig.model_validate({"model": {"name": "tp_net", "depth": 3}}))
    assert canonical(deeper)["model_options"] == {"depth": 3}
    assert key({"model": {"name": "tp_net", "depth": 3}}) != plain


# ------------------------------------------------------------------ the spec and library calls


class Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = 2


@pytest.mark.parametrize("options, expect", [
    (dict, "a pydantic model"),
    (type("Open", (BaseModel,), {"__annotations__": {"depth": int}, "depth": 2}),
     'extra="forbid"'),
    (type("Clash", (Opts,), {"__annotations__": {"pack": int}, "pack": 1}),
     "'pack' is passed to build by ganbench"),
])
def test_a_spec_with_a_bad_options_schema_is_refused(options, expect):
    with pytest.raises(ValueError, match=expect):
        ModelSpec("tp_bad", "points", 2, None, "none", build_mlp, options=options)


def test_a_library_config_is_checked_where_the_nets_are_built():
    cfg = RunConfig(model="mlp", model_options={"depth": 3}, device="cpu")
    with pytest.raises(ValueError, match="model 'mlp' takes no options"):
        SeedRun(cfg)
    assert MODELS.get("mlp").options is None
