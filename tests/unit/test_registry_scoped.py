"""`Registry.scoped()`: what a test registers inside the block is gone when it ends, so the
registry never holds a test-only entry outside the test that made it."""

from __future__ import annotations

import pytest

from ganbench.registry import Registry
from ganbench.tricks import TRICKS

STUBS = {"test_nan_at", "test_nan_for_seed", "test_unvectorised"}


def test_registrations_inside_the_block_are_undone_when_it_ends():
    reg: Registry = Registry("widget")
    reg.register("kept")(1)
    with reg.scoped() as inner:
        assert inner is reg
        reg.register("temp")(2)
        assert reg.names() == ["kept", "temp"] and reg.get("temp") == 2
    assert reg.names() == ["kept"] and "temp" not in reg
    reg.register("temp")(3)  # the name is free again, not "registered twice"
    assert reg.get("temp") == 3


def test_the_block_is_undone_when_it_raises_and_blocks_nest():
    reg: Registry = Registry("widget")
    with pytest.raises(RuntimeError), reg.scoped():
        reg.register("temp")(1)
        raise RuntimeError
    assert len(reg) == 0
    with reg.scoped():
        reg.register("outer")(1)
        with reg.scoped():
            reg.register("inner")(2)
        assert reg.names() == ["outer"]
    assert len(reg) == 0


def test_a_replaced_entry_is_restored():
    reg: Registry = Registry("widget")
    reg.register("a")(1)
    items = reg._items
    with reg.scoped():
        reg._items["a"] = 2  # as monkeypatch.setitem does
    assert reg.get("a") == 1 and reg._items is items


def test_stub_tricks_are_registered_inside_the_fixture(scoped_test_tricks):
    assert STUBS <= set(TRICKS.names())
    assert TRICKS.get("test_nan_at").name == "test_nan_at"


def test_no_stub_trick_outlives_its_test():
    # In a whole-suite run, test_loop.py's tests (each registering the stubs) come first.
    assert not STUBS & set(TRICKS.names())
    assert not [n for n in TRICKS.names() if n.startswith("test_")]
