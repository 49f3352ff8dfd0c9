"""The plugin loader: three ways in (file, GANBENCH_PLUGINS, entry points), the origin of each
registered name, the content hash, a worker's check of the recorded list, and one-line
errors for every bad plugin, with nothing half-registered left behind."""

from __future__ import annotations

import sys
import textwrap

import pytest
from helpers.plugins import isolation, write_plugin

from ganbench.data import DATASETS
from ganbench.registry import DuplicateNameError, Registry, origin
from ganbench.specs import plugins
from ganbench.tricks import TRICKS


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


def test_a_file_plugin_registers_its_names_with_its_origin(tmp_path, isolated_plugins):
    path = write_plugin(tmp_path / "myplug.py")
    got = plugins.load(["./myplug.py"], tmp_path)
    assert [p.name for p in got] == [str(path)] and got[0].module == "myplug"
    assert "tp_drift" in TRICKS and "tp_ring16" in DATASETS
    assert TRICKS.origin_of("tp_drift") == f"plugin '{path}'"
    assert DATASETS.origin_of("tp_ring16") == f"plugin '{path}'"
    assert TRICKS.origin_of("spectral_norm") == "built-in"
    assert plugins.loaded() == got
    assert plugins.load([str(path)]) == got  # once per process, however it is spelled


def test_the_hash_is_the_code(tmp_path, isolated_plugins):
    path = write_plugin(tmp_path / "myplug.py")
    h = plugins.load([str(path)])[0].hash
    mod = sys.modules["myplug"]
    assert plugins.source_hash(mod) == h and len(h) == 16
    path.write_text(path.read_text() + "\n# changed\n")
    assert plugins.source_hash(mod) != h


def test_a_package_hash_covers_its_other_files(tmp_path, isolated_plugins, monkeypatch):
    pkg = tmp_path / "tp_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write_plugin(pkg / "tricks.py")
    (pkg / "helper.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    h = plugins.load(["tp_pkg.tricks"])[0].hash
    (pkg / "helper.py").write_text("X = 2\n")
    assert plugins.source_hash(sys.modules["tp_pkg.tricks"]) != h


def test_environment_plugins(tmp_path, isolated_plugins, monkeypatch):
    write_plugin(tmp_path / "envplug.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(plugins.ENV, " envplug , ")
    got = plugins.load_environment()
    assert [p.name for p in got] == ["envplug"]
    assert TRICKS.origin_of("tp_drift") == "plugin 'envplug'"


def test_entry_point_plugins(tmp_path, isolated_plugins, monkeypatch):
    """An installed package's entry point, as a dist-info folder on sys.path (no pip)."""
    write_plugin(tmp_path / "epplug.py")
    dist = tmp_path / "epplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ganbench.plugins]\nring = epplug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    got = plugins.load_entry_points()
    assert [p.module for p in got] == ["epplug"]
    assert DATASETS.origin_of("tp_ring16") == "plugin 'epplug'"


def test_module_colon_function_calls_the_function(tmp_path, isolated_plugins, monkeypatch):
    (tmp_path / "fnplug.py").write_text(textwrap.dedent("""
        def register():
            from ganbench.losses import Loss, register_loss

            @register_loss("tp_loss")
            class L(Loss):
                pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from ganbench.losses import LOSSES

    plugins.load(["fnplug:register"])
    assert LOSSES.origin_of("tp_loss") == "plugin 'fnplug:register'"
    assert LOSSES.get("tp_loss").name == "tp_loss"


# ------------------------------------------------------------------ bad plugins


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    return msg


def test_an_unknown_module_names_it(isolated_plugins):
    with pytest.raises(plugins.PluginError) as e:
        plugins.load(["tp_no_such_module"], where=lambda i: f"s.yaml:3: plugins[{i}]")
    msg = one_line(e)
    assert msg.startswith("s.yaml:3: plugins[0]: plugin 'tp_no_such_module': no module named")


def test_a_missing_file_names_it(tmp_path, isolated_plugins):
    with pytest.raises(plugins.PluginError) as e:
        plugins.load(["./nope.py"], tmp_path)
    assert f"plugin '{tmp_path / 'nope.py'}': no such file" in one_line(e)


def test_a_module_raising_on_import_names_it_and_leaves_nothing(tmp_path, isolated_plugins):
    path = write_plugin(tmp_path / "badplug.py", tail="raise RuntimeError('boom\\nsecond line')")
    with pytest.raises(plugins.PluginError) as e:
        plugins.load([str(path)])
    msg = one_line(e)
    assert f"plugin '{path}' failed on import: RuntimeError: boom (badplug.py:" in msg
    # what it registered before failing is undone, and it is not "loaded"
    assert "tp_drift" not in TRICKS and "tp_ring16" not in DATASETS
    assert plugins.loaded() == [] and "badplug" not in sys.modules


def test_a_missing_dependency_is_an_import_failure_not_an_unknown_plugin(tmp_path,
                                                                          isolated_plugins):
    (tmp_path / "depplug.py").write_text("import tp_missing_dependency\n")
    with pytest.raises(plugins.PluginError) as e:
        plugins.load([str(tmp_path / "depplug.py")])
    assert "failed on import: ModuleNotFoundError" in one_line(e)


def test_two_plugins_registering_one_name(tmp_path, isolated_plugins):
    a = write_plugin(tmp_path / "plug_a.py")
    b = write_plugin(tmp_path / "plug_b.py")
    plugins.load([str(a)])
    with pytest.raises(plugins.PluginError) as e:
        plugins.load([str(b)])
    msg = one_line(e)
    assert f"'tp_drift' from plugin '{b}' is already registered by plugin '{a}'" in msg
    assert TRICKS.origin_of("tp_drift") == f"plugin '{a}'"  # the first one stays


def test_a_plugin_overriding_a_built_in(tmp_path, isolated_plugins):
    (tmp_path / "shadow.py").write_text(textwrap.dedent("""
        from ganbench.tricks.base import Trick, register
        @register("spectral_norm")
        class Mine(Trick):
            pass
    """))
    with pytest.raises(plugins.PluginError) as e:
        plugins.load([str(tmp_path / "shadow.py")])
    msg = one_line(e)
    assert "trick 'spectral_norm' from plugin" in msg and "already registered by built-in" in msg
    assert TRICKS.get("spectral_norm").__module__ == "ganbench.tricks.spectral_norm"


# ------------------------------------------------------------------ a worker's start


def test_a_worker_loads_the_recorded_list_and_refuses_other_code(tmp_path, isolated_plugins):
    path = write_plugin(tmp_path / "wplug.py")
    rec = plugins.load([str(path)])[0].record()
    assert plugins.load_recorded([rec])[0].hash == rec["hash"]
    with pytest.raises(plugins.PluginError) as e:
        plugins.load_recorded([{**rec, "hash": "0" * 16}])
    assert "is not the code the sweep was started with" in one_line(e)
    with pytest.raises(plugins.PluginError) as e:
        plugins.load_recorded([{"name": "tp_gone", "module": "tp_gone", "hash": "x",
                                "path": None}])
    msg = one_line(e)
    assert "cannot load the sweep's plugin 'tp_gone'" in msg


def test_tag_lists_names_and_hashes(tmp_path, isolated_plugins):
    got = plugins.load([str(write_plugin(tmp_path / "tplug.py"))])
    assert plugins.tag(got) == f"{tmp_path / 'tplug.py'}@{got[0].hash}"
    assert plugins.tag([]) == ""


# ------------------------------------------------------------------ registry origins


def test_registry_origins():
    reg: Registry = Registry("widget")
    reg.register("a")(object())
    with origin("plugin 'x'"):
        reg.register("b")(object())
    assert reg.origin_of("a") == "built-in" and reg.origin_of("b") == "plugin 'x'"

    class Local:  # defined in a test module: a user's own registration
        pass

    reg.register("c")(Local)
    assert reg.origin_of("c") == f"module '{__name__}'"
    with pytest.raises(DuplicateNameError, match="widget 'b' from built-in is already "
                       "registered by plugin 'x'"):
        reg.register("b")(object())
    assert reg.remove_origin("plugin 'x'") == ["b"] and "b" not in reg


def test_an_old_run_file_without_plugins_loads(tmp_path):
    from ganbench.specs.load import load_run_config

    p = tmp_path / "r.yaml"
    p.write_text("dataset: ring8\nsteps: 10\n")
    cfg = load_run_config(p)
    assert cfg.plugins == [] and "plugins" not in cfg.identity()

