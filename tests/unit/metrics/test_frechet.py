"""FID's formula, computed from two symmetric eigendecompositions instead of torch-fidelity's
general eigvals: the same value (against torch-fidelity's own function and closed forms),
used inside scoring only, and torch-fidelity left as it was after."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.metrics import frechet


def stats(n: int, d: int, seed: int, scale: float = 1.0, shift: float = 0.0):
    x = np.random.default_rng(seed).standard_normal((n, d)) * scale + shift
    x[:, : d // 3] *= 3.0  # unequal variances, so the covariances do not commute
    return {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False)}


@pytest.mark.parametrize("n1, n2, d", [(200, 300, 32), (10, 400, 64), (6, 5, 48),
                                       (3000, 40, 256)])
def test_agrees_with_torch_fidelitys_formula(n1, n2, d):
    """Full-rank and rank-deficient covariances (fewer samples than dimensions), as FID on a
    few generated images has."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    a, b = stats(n1, d, 0), stats(n2, d, 1, scale=1.7, shift=0.3)
    ref = fid_statistics_to_metric(a, b, False)[KEY_METRIC_FID]
    ours = frechet.statistics_to_metric(a, b)[KEY_METRIC_FID]
    assert ours == pytest.approx(ref, rel=1e-7, abs=1e-7)


def test_closed_forms():
    rng = np.random.default_rng(2)
    d = 20
    a_var, b_var = rng.uniform(0.1, 4, d), rng.uniform(0.1, 4, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2.
    want = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a_var) - np.sqrt(b_var)) ** 2).sum()
    got = frechet.frechet_distance(mu1, np.diag(a_var), mu2, np.diag(b_var))
    assert got == pytest.approx(want, rel=1e-10)
    s = stats(100, d, 3)["sigma"]
    assert abs(frechet.frechet_distance(mu1, s, mu1, s)) < 1e-9  # a Gaussian against itself
    # Rotating both Gaussians by one orthogonal matrix leaves the distance unchanged.
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s2 = stats(80, d, 4)["sigma"]
    assert frechet.frechet_distance(q @ mu1, q @ s @ q.T, q @ mu2, q @ s2 @ q.T) == \
        pytest.approx(frechet.frechet_distance(mu1, s, mu2, s2), rel=1e-9)


def test_used_only_inside_scoring_and_restored():
    import torch_fidelity
    import torch_fidelity.metric_fid as mf
    import torch_fidelity.metrics as mm

    before = mf.fid_statistics_to_metric, mm.fid_statistics_to_metric
    with frechet.in_torch_fidelity(torch_fidelity):
        assert mf.fid_statistics_to_metric is frechet.statistics_to_metric
        assert mm.fid_statistics_to_metric is frechet.statistics_to_metric
    assert (mf.fid_statistics_to_metric, mm.fid_statistics_to_metric) == before
    with pytest.raises(RuntimeError), frechet.in_torch_fidelity(torch_fidelity):
        raise RuntimeError("scoring failed")
    assert (mf.fid_statistics_to_metric, mm.fid_statistics_to_metric) == before


def test_both_of_torch_fidelitys_fid_paths_reach_it(monkeypatch):
    """Its calculate_metrics calls the formula from metric_fid (inputs) and from metrics
    (cached statistics); both names lead here inside the block. Real scoring reaching it is
    checked in test_fidelity.py's FID test."""
    import torch_fidelity

    calls = []
    orig = frechet.statistics_to_metric
    monkeypatch.setattr(frechet, "statistics_to_metric",
                        lambda *a, **k: calls.append(1) or orig(*a, **k))
    a, b = stats(30, 16, 5), stats(40, 16, 6)
    with frechet.in_torch_fidelity(torch_fidelity):
        out = torch_fidelity.metrics.fid_statistics_to_metric(a, b, False)
        torch_fidelity.metric_fid.fid_statistics_to_metric(a, b, False)
    assert calls == [1, 1] and np.isfinite(next(iter(out.values())))


def test_the_references_root_is_computed_once_and_keyed_by_content(monkeypatch):
    calls = []
    orig = frechet.psd_sqrt
    monkeypatch.setattr(frechet, "psd_sqrt", lambda s: calls.append(1) or orig(s))
    ref, g1, g2 = stats(50, 24, 7), stats(30, 24, 8), stats(30, 24, 9)
    first = frechet.statistics_to_metric(g1, ref)
    frechet.statistics_to_metric(g2, ref)
    assert len(calls) == 1  # the second evaluation reused the reference's root
    changed = {"mu": ref["mu"], "sigma": ref["sigma"].copy()}
    changed["sigma"][0, 0] += 1.0  # same object shape, other content: a new root
    assert frechet.statistics_to_metric(g1, changed) != first and len(calls) == 2
