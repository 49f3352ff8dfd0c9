"""Registry: lookup errors a person can act on, no silent overwrites, stable ordering."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ganbench.data import DATASETS, DatasetSpec
from ganbench.data.base import dataset_classifier, register_dataset
from ganbench.losses import LOSSES, Loss
from ganbench.models import MODELS, ModelSpec, register_model
from ganbench.registry import (
    DuplicateNameError,
    RegistrationError,
    Registry,
    UnknownNameError,
    origin,
)
from ganbench.tricks import TRICKS, Trick
from ganbench.tricks.base import register_trick


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

    with pytest.raises(DuplicateNameError, match=f"loss 'ns' from module '{__name__}' is "
                       "already registered by built-in"):
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
    assert LOSSES.names() == ["hinge", "lsgan", "minimax", "ns", "rpgan", "wasserstein"]
    assert {"mlp", "dcgan28", "dcgan64"} <= set(MODELS.names())


# ------------------------------------------------------------------ the one way in


def test_register_checks_the_type_against_the_base():
    with pytest.raises(RegistrationError, match="model 'x': expected a ModelSpec"):
        MODELS.register("x")(object())
    with pytest.raises(RegistrationError, match="expected a subclass of Trick"):
        TRICKS.register("x")(int)
    with pytest.raises(RegistrationError, match="expected a subclass of Loss"):
        LOSSES.register("x")(LOSSES.get("ns")())  # an instance, not the class
    with pytest.raises(ValueError):  # RegistrationError is a ValueError too
        DATASETS.register("x")(3)
    assert "x" not in MODELS and "x" not in TRICKS and "x" not in LOSSES and "x" not in DATASETS


def test_every_decorator_form_names_a_class():
    with TRICKS.scoped():
        @register_trick("named_here")
        class A(Trick):
            """Test only."""

        @register_trick
        class B(Trick):
            """Test only."""

            name = "own_name"

        class C(Trick):
            """Test only."""

            short = "c!"

        assert TRICKS.register(C, name="called") is C
        assert (A.name, A.short) == ("named_here", "named_here")
        assert (B.name, B.short) == ("own_name", "own_name")
        assert (C.name, C.short) == ("called", "c!")
        assert TRICKS.get("named_here") is A and TRICKS.get("own_name") is B


def test_a_class_without_a_name_of_its_own_is_refused():
    class Base(Trick):
        """Test only."""

        name = "inherited"

    class Child(Base):
        """Test only."""

    with TRICKS.scoped(), pytest.raises(RegistrationError, match="no name given"):
        register_trick(Child)  # `name` is Base's: a bare register must not reuse it


def _spec(name: str = "", **kw) -> ModelSpec:
    return replace(MODELS.get("mlp"), name=name, **kw)


def test_a_spec_is_named_or_must_agree():
    with MODELS.scoped():
        filled = MODELS.register("filled")(_spec(""))
        assert filled.name == "filled" and MODELS.get("filled") is filled
        own = register_model(_spec("own"))
        assert own.name == "own" and MODELS.get("own") is own
        with pytest.raises(RegistrationError, match="named 'a' registered as 'b'"):
            MODELS.register("b")(_spec("a"))
        with pytest.raises(RegistrationError, match="no name given"):
            register_model(_spec(""))
        assert "a" not in MODELS and "b" not in MODELS


def test_datasets_come_in_as_specs_only():
    # One way in: a bare loader function is refused (register_dataset builds the spec).
    def load(root):
        """Test only: never loaded."""

    with DATASETS.scoped():
        with pytest.raises(RegistrationError, match="dataset 'bare': expected a DatasetSpec"):
            DATASETS.register("bare")(load)
        assert "bare" not in DATASETS
        assert register_dataset("deco", kind="images", classifier="mnist")(load) is load
        spec = DATASETS.get("deco")
        assert isinstance(spec, DatasetSpec) and spec.load is load
        assert (spec.kind, dataset_classifier("deco")) == ("images", "mnist")
    import ganbench.data.base as base

    assert not hasattr(base, "points_dataset") and not hasattr(base, "labelled_by")


# ------------------------------------------------------------------ origins


def test_a_clash_names_the_kind_the_name_and_both_origins():
    class Mine(Trick):
        """Test only."""

    with TRICKS.scoped(), origin("mypkg.tricks"):
        with pytest.raises(DuplicateNameError) as info:
            register_trick("ttur")(Mine)
    assert str(info.value) == ("trick 'ttur' from plugin 'mypkg.tricks' is already "
                               "registered by built-in (pick another name)")
    assert isinstance(info.value, ValueError)
    assert Mine.name == "" and TRICKS.get("ttur").__name__ == "TTUR"


def test_a_clash_between_two_plugins_names_both():
    reg: Registry = Registry("widget")
    with origin("first.plugin"):
        reg.register("w")(1)
    with origin("./local_file.py"), pytest.raises(DuplicateNameError) as info:
        reg.register("w")(2)
    assert str(info.value) == ("widget 'w' from plugin './local_file.py' is already "
                               "registered by plugin 'first.plugin' (pick another name)")


def test_each_entry_records_the_origin_current_when_it_was_registered():
    reg: Registry = Registry("widget")
    reg.register("a")(1)
    with origin("pkg.one"):
        reg.register("b")(2)
        with origin("pkg.two"):
            reg.register("c")(3)
        reg.register("d")(4)
    reg.register("e")(5)
    assert [reg.origin_of(n) for n in "abcde"] == [
        "built-in", "pkg.one", "pkg.two", "pkg.one", "built-in"]
    assert TRICKS.origin_of("ttur") == "built-in" and MODELS.origin_of("mlp") == "built-in"
    with pytest.raises(UnknownNameError):
        reg.origin_of("zzz")


def test_origin_is_restored_when_its_block_raises():
    with pytest.raises(RuntimeError), origin("broken.plugin"):
        raise RuntimeError
    reg: Registry = Registry("widget")
    reg.register("after")(1)
    assert reg.origin_of("after") == "built-in"


def test_scoped_restores_origins():
    reg: Registry = Registry("widget")
    reg.register("kept")(1)
    with reg.scoped():
        with origin("plug.in"):
            reg.register("temp")(2)
        assert reg.origin_of("temp") == "plug.in"
    reg.register("temp")(3)  # free again, and now built-in: no stale plugin origin
    assert reg.origin_of("temp") == "built-in" and reg.origin_of("kept") == "built-in"


# ---------------------------------------------------------------- queries (timm's list_models)


@pytest.fixture
def shapes() -> Registry:
    from dataclasses import dataclass

    @dataclass
    class Shape:
        name: str
        sides: int
        filled: bool = False

    reg: Registry = Registry("shape", base=Shape)
    for name, sides, filled in (("square", 4, True), ("triangle", 3, False),
                                ("square_big", 4, False)):
        reg.register(Shape(name, sides, filled))
    with origin("shapes_plugin"):
        reg.register(Shape("star", 10, True))
    return reg


def test_names_without_conditions_are_all_sorted(shapes):
    assert shapes.names() == ["square", "square_big", "star", "triangle"]


def test_names_filter_by_pattern_and_exclude(shapes):
    assert shapes.names("squ*") == ["square", "square_big"]
    assert shapes.names(["tri*", "st*"]) == ["star", "triangle"]
    assert shapes.names("s*", exclude="*_big") == ["square", "star"]
    assert shapes.names("nothing*") == []


def test_names_filter_by_attribute_value_or_test(shapes):
    assert shapes.names(sides=4) == ["square", "square_big"]
    assert shapes.names(sides=4, filled=True) == ["square"]
    assert shapes.names(sides=lambda n: n > 3) == ["square", "square_big", "star"]
    assert shapes.names(colour="red") == []  # an attribute no entry has matches nothing


def test_names_filter_by_origin(shapes):
    assert shapes.names(origin="built-in") == ["square", "square_big", "triangle"]
    assert shapes.names(origin="plugin") == ["star"]
    assert shapes.names(origin="shapes_plugin") == ["star"]
    assert shapes.names(origin="plugin 'shapes_plugin'") == ["star"]
    assert shapes.names(origin="other_plugin") == []


def test_builtin_registries_answer_queries():
    assert "spectral_norm" in TRICKS.names(origin="built-in")
    images = DATASETS.names(kind="images")
    assert "mnist" in images and "ring8" not in images
    assert set(MODELS.names(conditional=True)) <= set(MODELS.names())
    assert MODELS.names(conditional=True)  # at least one conditional model is built in


def test_a_swapped_pair_of_letters_is_read_as_the_name_it_garbles():
    from ganbench.registry import closest

    # difflib alone ranks 'fd' above 'fid' for 'fdi' (fd is a metric entry since `fd` exists)
    assert closest("fdi", ["cis", "dc", "fd", "fid", "kid"]) == "fid"
    assert closest("ttru", ["ttur", "r1"]) == "ttur"
    assert closest("spectral_nrom", ["spectral_norm", "r1"]) == "spectral_norm"
    assert closest("qqq", ["fid", "kid"]) is None
    assert closest("fid", ["fid"]) == "fid"  # itself, by difflib: no swap of a name with itself
