"""A real full disk (a small tmpfs; root only): the sweep stops with one line naming the
path and no traceback, and after space is freed the same command finishes every run once."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest
from helpers.procs import ganbench, wait_until
from helpers.sweep_faults import SPEC, runs

from ganbench.sweep.scheduler import Queue

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def _finished(res) -> int:
    try:
        return Queue(str(res / "faults" / "study.journal"), "faults").counts()["finished"]
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def test_a_full_disk_mid_sweep_then_freed_space_finishes_the_sweep(tmp_path, small_disk):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(textwrap.dedent(SPEC).replace("steps: 40", "steps: 400"))
    res = small_disk / "results"
    args = ("sweep", str(spec), "--results", str(res), "--device", "cpu",
            "--checkpoint-every", "10")
    first = ganbench(*args, cwd=tmp_path)
    assert wait_until(lambda: _finished(res) >= 1 or first.poll() is not None, timeout=600)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # take every byte left
        try:
            while True:
                f.write(b"\0" * (1 << 16))
        except OSError:
            pass
    out, _ = first.communicate(timeout=600)
    assert first.returncode != 0, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors and all("disk full" in line for line in errors), out
    assert any(str(small_disk) in line for line in errors), out

    filler.unlink()
    second = ganbench(*args, cwd=tmp_path)
    out2, _ = second.communicate(timeout=900)
    assert second.returncode == 0, out2
    df = runs(res)
    fin = df[df["status"] == "FINISHED"]
    assert len(fin) == 4 and fin["key"].is_unique
    assert not (df["status"] == "RUNNING").any()
