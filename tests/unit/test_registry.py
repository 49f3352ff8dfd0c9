"""Registry: lookup errors a person can act on, no silent overwrites, stable ordering."""

from __future__ import annotations

import pytest

from ganbench.data import DATASETS
from ganbench.losses import LOSSES, Loss
from ganbench.models import MODELS
from ganbench.registry import DuplicateNameError, Registry, UnknownNameError
from ganbench.tricks import TRICKS


@pytest.fixture
def widgets() -> Registry:
    reg: Registry = Registry("widget")
    for name in ("zeta", "alpha", "spectral_norm", "mid"):
        reg.register(name)(object())
    return reg


def test_unknown_trick_suggests_the_closest_name():
    with pytest.raises(UnknownNameError) as info:
        TRICKS.get("spectral_nrom")
    msg = str(info.value)
    assert msg.startswith("unknown trick 'spectral_nrom'; did you mean 'spectral_norm'?")
    for name in TRICKS.names():
        assert name in msg  # the known names are listed


def test_unknown_name_error_is_a_value_error():
    with pytest.raises(ValueError):
        LOSSES.get("nss")


def test_unknown_name_without_a_close_match_lists_names_only(widgets):
    with pytest.raises(UnknownNameError) as info:
        widgets.get("qqqqqqqqqqqq")
    msg = str(info.value)
    assert msg.startswith("unknown widget 'qqqqqqqqqqqq'")
    assert "did you mean" not in msg
    assert "(known: alpha, mid, spectral_norm, zeta)" in msg


@pytest.mark.parametrize("reg,typo,expected", [
    (LOSSES, "hinje", "hinge"),
    (MODELS, "dcgan2", "dcgan28"),
    (DATASETS, "ring", "ring8"),
    (TRICKS, "ttru", "ttur"),
])
def test_each_builtin_registry_suggests(reg, typo, expected):
    with pytest.raises(UnknownNameError, match=f"did you mean '{expected}'"):
        reg.get(typo)


def test_non_string_names_do_not_crash_the_message(widgets):
    with pytest.raises(UnknownNameError, match="unknown widget 3"):
        widgets.get(3)


def test_double_registration_is_rejected_and_keeps_the_first(widgets):
    first = widgets.get("alpha")
    with pytest.raises(ValueError, match="widget 'alpha' is registered twice"):
        widgets.register("alpha")(object())
    assert widgets.get("alpha") is first
    assert len(widgets) == 4


def test_builtin_double_registration_is_rejected():
    class Other(Loss):
        """Test only."""

    with pytest.raises(DuplicateNameError, match="loss 'ns' is registered twice by built-in"):
        LOSSES.register("ns")(Other)
    assert LOSSES.get("ns").__name__ == "NonSaturating"
    assert Other.name == ""  # a refused class is left as it was


def test_register_is_a_decorator_returning_the_object():
    reg: Registry = Registry("thing")

    @reg.register("f")
    def f():
        return 42

    assert f() == 42
    assert reg.get("f") is f


def test_names_and_items_are_sorted(widgets):
    assert widgets.names() == ["alpha", "mid", "spectral_norm", "zeta"]
    assert [k for k, _ in widgets.items()] == widgets.names()
    for reg in (TRICKS, LOSSES, MODELS, DATASETS):
        assert reg.names() == sorted(reg.names())


def test_contains_and_len(widgets):
    assert "alpha" in widgets
    assert "beta" not in widgets
    assert 3 not in widgets
    assert len(widgets) == 4
    assert "ns" in LOSSES and "spectral_norm" in TRICKS and "mlp" in MODELS
    assert "ring8" in DATASETS and "grid25" in DATASETS


def test_builtin_losses_and_models_are_registered():
    assert LOSSES.names() == ["hinge", "lsgan", "minimax", "ns", "wasserstein"]
    assert {"mlp", "dcgan28", "dcgan64"} <= set(MODELS.names())
