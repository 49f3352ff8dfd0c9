"""Issue 31, item 5: files written whole (reports, runs.csv, plan.json, spec.yaml, figures)
get the mode a plain open() gives under the user's umask, not mkstemp's private 0600."""

from __future__ import annotations

import os
import stat

import pytest

from ganbench.atomic import atomic_path, umask, write_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_atomic_gives_the_umask_mode(tmp_path, umask_022):
    write_atomic(tmp_path / "report.md", "# report\n")
    assert mode(tmp_path / "report.md") == 0o644


def test_atomic_path_follows_a_stricter_umask(tmp_path):
    old = os.umask(0o077)
    try:
        with atomic_path(tmp_path / "runs.csv") as tmp:
            tmp.write_text("a,b\n")
    finally:
        os.umask(old)
    assert mode(tmp_path / "runs.csv") == 0o600


def test_umask_is_read_without_changing_it(umask_022):
    assert umask() == 0o022
    assert umask() == 0o022
