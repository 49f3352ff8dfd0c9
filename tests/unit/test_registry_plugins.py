"""A design and a FID protocol added by a plugin outside the package, with no edit to
ganbench: the design plans a sweep, sizes it by its own method and is treated by the report
as factorial or not by its own attribute; the protocol is accepted by `fid_protocol:`, and an
unknown one is refused with one file:line line naming the known ones."""

from __future__ import annotations

import sys
import textwrap

import pytest
from helpers.cli import invoke
from helpers.plugins import isolation

from ganbench.config import ConfigError
from ganbench.report.build import analyse, factorial_design
from ganbench.specs.load import load_run_config, load_sweep_spec

from .report.test_report import store_data
from .report.test_stats import GP, SN, runs_frame

PLUGIN = '''
"""A test plugin: two sweep designs and a FID protocol."""
import itertools
import math

import ganbench
from ganbench.metrics.protocols import FidProtocol, register_protocol
from ganbench.tricks.levels import OFF

SIZED = []  # each call of TpPairs.cells: the size check asked the design


@ganbench.register_design("tp-pairs")  # the public API, as a plugin author writes it
class TpPairs(ganbench.Design):
    """The baseline, then every pair of tricks on together."""

    two_level = True

    def combinations(self, levels):
        on, off = self.on(levels), dict.fromkeys(levels, OFF)
        return [off] + [{**off, a: on[a], b: on[b]}
                        for a, b in itertools.combinations(levels, 2)]

    def cells(self, n_levels):
        SIZED.append(list(n_levels))
        return 1 + math.comb(len(n_levels), 2)


@ganbench.register_design("tp-crossed")
class TpCrossed(ganbench.Design):
    """Every combination, as full (a factorial design of a plugin's own)."""

    factorial = True

    def combinations(self, levels):
        names = list(levels)
        return [dict(zip(names, c)) for c in itertools.product(*levels.values())]

    def cells(self, n_levels):
        return math.prod(n_levels)


register_protocol(FidProtocol("tp_proto", "test", 20, 20, "a test plugin"))
'''

SWEEP = """\
name: tpdesign
plugins: [./tp_designs.py]
base: {dataset: ring8, steps: 4, batch_size: 8}
tricks:
  ttur: [off, on]
  spectral_norm: [off, on]
  gradient_penalty: [off, on]
design: DESIGN
seeds: 2
"""


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


@pytest.fixture
def folder(tmp_path, isolated_plugins):
    (tmp_path / "tp_designs.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


def test_a_plugin_design_plans_a_sweep_sized_by_its_own_method(folder):
    f = folder / "s.yaml"
    f.write_text(SWEEP.replace("DESIGN", "tp-pairs"))
    r = invoke("sweep", f, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "4 cells × 2 seeds" in r.output  # the baseline and 3 pairs
    assert sys.modules["tp_designs"].SIZED == [[2, 2, 2]]
    # its own two-level rule still holds (Design.check, from the base class)
    f.write_text(SWEEP.replace("DESIGN", "tp-pairs").replace("ttur: [off, on]",
                                                             "ttur: [off, on, {}]"))
    r = invoke("sweep", f, "--dry-run")
    assert r.exit_code != 0 and "needs two levels" in r.output


def test_the_report_asks_a_plugin_design_whether_it_is_factorial(folder):
    f = folder / "s.yaml"
    f.write_text(SWEEP.replace("DESIGN", "tp-crossed"))
    load_sweep_spec(f)  # loads the plugin, as `ganbench sweep` does
    assert factorial_design("tp-crossed") and not factorial_design("tp-pairs")
    frame = runs_frame({"baseline": {}, "sn": SN, "gp": GP, "gp+sn": {**SN, **GP}},
                       lambda c, s: 10.0 + s + (c == "sn"))
    crossed = analyse(store_data(frame, folder, design="tp-crossed"), "cmd", "uri")
    pairs = analyse(store_data(frame, folder, design="tp-pairs"), "cmd", "uri")
    assert crossed.groups[0].factorial is not None
    assert pairs.groups[0].factorial is None


def test_a_plugin_protocol_is_accepted_and_an_unknown_one_refused(folder):
    f = folder / "run.yaml"
    f.write_text("plugins: [./tp_designs.py]\ndataset: cifar10\nmodel: dcgan28\n"
                 "fid_protocol: tp_proto\n")
    assert load_run_config(f).fid_protocol == "tp_proto"
    f.write_text("plugins: [./tp_designs.py]\ndataset: cifar10\nmodel: dcgan28\n"
                 "fid_protocol: tp_protp\n")
    with pytest.raises(ConfigError) as e:
        load_run_config(f)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert msg.startswith(f"{f}:4: fid_protocol: unknown FID protocol 'tp_protp'; "
                          "did you mean 'tp_proto'? (known: compare_gan, mimicry, studiogan, "
                          "studiogan2021, studiogan2023, tp_proto)")


def test_a_sweep_refuses_an_unknown_protocol_in_its_base(folder):
    f = folder / "s.yaml"
    f.write_text(SWEEP.replace("DESIGN", "full").replace(
        "batch_size: 8}", "batch_size: 8,\n       fid_protocol: nope}"))
    r = invoke("sweep", f, "--dry-run")
    assert r.exit_code != 0
    err = [ln for ln in r.output.splitlines() if "fid_protocol" in ln]
    assert len(err) == 1 and f"{f}:4: " in err[0] and "tp_proto" in err[0], r.output
