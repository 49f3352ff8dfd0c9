"""Shared fixtures: single-threaded torch (fast and stable on small, busy CPU machines) and
the test-only tricks, registered for one test at a time. Helpers live in tests/helpers/."""

from __future__ import annotations

import os

import pytest
import torch
from helpers.data import register_tiny_images, register_tiny_labelled
from helpers.stub_tricks import register_stub_tricks

from ganbench.tricks import TRICKS

# The tiny synthetic image dataset: collection-time parametrisations already validate
# configs that name it, so it is registered once for the session, not per test.
register_tiny_images()
register_tiny_labelled()


@pytest.fixture(autouse=True, scope="session")
def _default_results(tmp_path_factory):
    """Commands run without --results (`ganbench run` records to MLflow by default) write to
    a temporary folder, never to runs/ in the working tree."""
    os.environ["GANBENCH_RESULTS"] = str(tmp_path_factory.mktemp("default-results"))
    yield
    os.environ.pop("GANBENCH_RESULTS", None)


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """Tiny nets gain nothing from intra-op threads, and on a busy machine OpenMP's
    spin-waiting makes them 10-100x slower; one thread keeps the suite fast everywhere."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def scoped_test_tricks():
    """helpers/stub_tricks.py's tricks (test_nan_at, test_nan_for_seed, test_unvectorised),
    registered for this test only: the registry never holds them outside one."""
    with TRICKS.scoped():
        register_stub_tricks()
        yield
