"""Sweep designs carry their behaviour: each counts its own cells (the size check asks it
before any grid is built) and says whether it is factorial (the report asks it); `design:`
is any registered name, checked with file:line once the file's plugins are loaded."""

from __future__ import annotations

import itertools

import pytest

from ganbench.config import ConfigError, SweepSpec
from ganbench.report.build import factorial_design
from ganbench.specs.designs import DESIGNS, Design
from ganbench.specs.load import load_sweep_spec
from ganbench.specs.sweep import grid_size
from ganbench.tricks.levels import OFF

SWEEP = "name: dr\nbase: {dataset: ring8, steps: 4, batch_size: 8}\ntricks:\n  ttur: [off, on]\n"


def _levels(n_levels: list[int]) -> dict:
    return {f"t{i}": [OFF] + [{"k": j} for j in range(1, n)] for i, n in enumerate(n_levels)}


@pytest.mark.parametrize("name", DESIGNS.names())
def test_each_design_counts_at_least_the_cells_it_makes(name):
    cls = DESIGNS.get(name)
    shapes = [[2], [2, 2], [2, 2, 2, 2], [2, 2, 2, 2, 2]]
    if not cls.two_level:
        shapes += [[3], [2, 3], [3, 4, 2]]
    for n_levels in shapes:
        d = cls(SweepSpec(name="s", design=name))
        made = len(d.combinations(_levels(n_levels)))
        counted = d.cells(n_levels)
        assert made <= counted, (name, n_levels)
        if name in ("full", "leave-one-out"):
            assert made == counted  # exact where the arithmetic is


def test_the_built_in_designs_say_whether_they_are_factorial():
    assert {n for n in DESIGNS.names() if DESIGNS.get(n).factorial} == {"full", "fractional"}
    assert factorial_design("full") and not factorial_design("one-at-a-time")
    assert factorial_design("?")  # an old store without a recorded design: as before
    assert not factorial_design("not-loaded-here")  # ablation tables only


def test_a_design_without_its_own_count_is_counted_by_expansion():
    class Pairs(Design):
        """The baseline, then every pair of tricks on."""

        def combinations(self, levels):
            on = self.on(levels)
            off = dict.fromkeys(levels, OFF)
            return [off] + [{**off, a: on[a], b: on[b]}
                            for a, b in itertools.combinations(levels, 2)]

    assert Pairs(SweepSpec(name="s")).cells([2, 2, 2, 2]) == 1 + 6


def test_grid_size_asks_the_design():
    class Twice(Design):
        def combinations(self, levels):
            return []

        def cells(self, n_levels):
            return 2 * len(n_levels)

    with DESIGNS.scoped():
        DESIGNS.register("twice")(Twice)
        spec = SweepSpec(name="s", design="twice", tricks={"a": ["off", "on"], "b": ["on"]},
                         axes={"loss": ["ns", "hinge", "lsgan"]}, seeds=5)
        assert grid_size(spec) == (2 * 2 * 3, 2 * 2 * 3 * 5)


def test_an_unknown_design_is_one_line_with_its_place_and_a_suggestion(tmp_path):
    f = tmp_path / "sweep.yaml"
    f.write_text(SWEEP + "design: ful\n")
    with pytest.raises(ConfigError) as e:
        load_sweep_spec(f)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert msg.startswith(f"{f}:5: design: unknown design 'ful'; did you mean 'full'?")
    assert "one-at-a-time" in msg  # the known names


@pytest.mark.parametrize("name", DESIGNS.names())
def test_every_registered_design_loads_from_a_file(tmp_path, name):
    f = tmp_path / "sweep.yaml"
    f.write_text(SWEEP + f"design: {name}\n")
    assert load_sweep_spec(f)[0].design == name
