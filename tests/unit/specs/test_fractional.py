"""Regular two-level fractional factorial designs: size, balance and resolution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ganbench.specs.fractional import fractional_rows

KS = range(2, 11)
RESOLUTIONS = (3, 4, 5)

# Fewest runs of any regular 2^(k-p) design of at least this resolution (Box, Hunter &
# Hunter, table of minimum-aberration designs). Where no fraction keeps the resolution the
# design is the full factorial 2^k.
MIN_RUNS = {
    3: {2: 4, 3: 4, 4: 8, 5: 8, 6: 8, 7: 8, 8: 16, 9: 16, 10: 16},
    4: {2: 4, 3: 8, 4: 8, 5: 16, 6: 16, 7: 16, 8: 16, 9: 32, 10: 32},
    5: {2: 4, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 8: 64, 9: 128, 10: 128},
}


def pm(rows) -> np.ndarray:
    """0/1 rows -> (n, k) matrix in ±1 coding."""
    return 2 * np.asarray(rows, dtype=int) - 1


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("k", KS)
def test_shape_distinct_and_power_of_two(k, resolution):
    rows = fractional_rows(k, resolution)
    n = len(rows)
    assert n & (n - 1) == 0 and n >= 4, f"{n} rows is not a power of two >= 4"
    assert n <= 2**k
    assert all(len(r) == k for r in rows)
    assert all(v in (0, 1) for r in rows for v in r)
    assert len(set(map(tuple, rows))) == n, "rows repeat"


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("k", KS)
def test_run_count_is_the_known_minimum(k, resolution):
    assert len(fractional_rows(k, resolution)) == MIN_RUNS[resolution][k]


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("k", KS)
def test_every_column_is_balanced(k, resolution):
    x = np.asarray(fractional_rows(k, resolution))
    assert (x.sum(axis=0) * 2 == len(x)).all(), x.sum(axis=0)


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("k", KS)
def test_main_effects_mutually_orthogonal(k, resolution):
    x = pm(fractional_rows(k, resolution))
    gram = x.T @ x
    assert (gram == len(x) * np.eye(k, dtype=int)).all()


@pytest.mark.parametrize("resolution", (4, 5))
@pytest.mark.parametrize("k", KS)
def test_main_effects_orthogonal_to_two_factor_interactions(k, resolution):
    x = pm(fractional_rows(k, resolution))
    for a, b in itertools.combinations(range(k), 2):
        inter = x[:, a] * x[:, b]
        dots = x.T @ inter
        assert (dots == 0).all(), f"a main effect is aliased with {a}x{b}: {dots}"


@pytest.mark.parametrize("k", KS)
def test_resolution_five_two_factor_interactions_mutually_orthogonal(k):
    x = pm(fractional_rows(k, 5))
    pairs = list(itertools.combinations(range(k), 2))
    cols = np.stack([x[:, a] * x[:, b] for a, b in pairs], axis=1)
    gram = cols.T @ cols
    assert (gram == len(x) * np.eye(len(pairs), dtype=int)).all()


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("k", KS)
def test_no_defining_word_shorter_than_resolution(k, resolution):
    """Resolution R: the product of any 1..R-1 factor columns is balanced (never constant)."""
    x = pm(fractional_rows(k, resolution))
    for size in range(1, resolution):
        for combo in itertools.combinations(range(k), size):
            prod = np.prod(x[:, combo], axis=1)
            assert prod.sum() == 0, f"word {combo} of length {size} < {resolution}"


def test_deterministic():
    assert fractional_rows(7, 4) == fractional_rows(7, 4)


def test_classic_half_fraction_of_four_factors():
    """2^(4-1) IV: D = ABC, i.e. the fourth column is the parity of the first three."""
    rows = fractional_rows(4, 4)
    assert len(rows) == 8
    assert all(r[3] == (r[0] + r[1] + r[2]) % 2 for r in rows)
