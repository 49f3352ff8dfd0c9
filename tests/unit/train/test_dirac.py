"""The Dirac-GAN (Mescheder et al. 2018, arXiv:1801.04406): ganbench's `dirac` data and model,
trained by the real loop, against a closed-form NumPy simulation of the paper's gradient
dynamics written here (it calls nothing of ganbench's model or loop), and the paper's
headline: unregularised GAN training does not converge, R1 does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.config import RunConfig
from ganbench.data import DATASETS
from ganbench.metrics import available_metrics
from ganbench.metrics.dirac import TRENDS, dirac_trend
from ganbench.models import MODELS
from ganbench.tracking import MemoryTracker
from ganbench.train import train

H, STEPS, EVERY = 0.2, 600, 10  # the authors' notebook's h = 0.2, from (1, 1)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def numpy_dirac(method: str, theta: float = 1.0, psi: float = 1.0, h: float = H,
                steps: int = STEPS, every: int = EVERY) -> np.ndarray:
    """Distances to (0, 0) every `every` steps of alternating gradient descent (a D step,
    then a G step on the updated D) on the Dirac-GAN, real data at 0, with D's logit psi*x
    high on real data (ganbench's convention, the paper's -psi):

      D minimises softplus(-psi*0) + softplus(psi*theta)  [+ gamma/2 psi^2 for R1]
        (wasserstein: psi*theta - psi*0)
      G minimises log(1 - sigmoid(psi*theta)) (minimax), softplus(-psi*theta) (ns),
        -psi*theta (wasserstein).
    """
    out = []
    for t in range(1, steps + 1):
        if method == "wasserstein":
            psi -= h * theta
            theta += h * psi
        else:
            grad_psi = theta * sigmoid(psi * theta) + (0.3 * psi if method == "r1" else 0.0)
            psi -= h * grad_psi
            s = sigmoid(-psi * theta) if method == "ns" else sigmoid(psi * theta)
            theta += h * psi * s
        if t % every == 0:
            out.append(math.hypot(theta, psi))
    return np.array(out)


def ganbench_dirac(loss: str, tricks: dict | None = None, steps: int = STEPS,
                   model: str = "dirac", seed: int = 0) -> tuple[np.ndarray, str, object]:
    torch.set_num_threads(1)  # a scalar model: threads only add waiting
    cfg = RunConfig(dataset="dirac", model=model, loss=loss, steps=steps, batch_size=16,
                    lr=H, log_every=EVERY, eval_every=EVERY, device="cpu", seed=seed,
                    tricks={"gradient_descent": {}, **(tricks or {})})
    tracker = MemoryTracker()
    result = train(cfg, tracker)
    dist = [v for _, k, v in tracker.metrics if k == "eval/dirac_dist"]  # (step, key, value)
    assert tracker.tags["dirac.trend"] == TRENDS[int(result.metrics["dirac_trend"])]
    return np.array(dist), tracker.tags["dirac.trend"], result


@pytest.mark.parametrize("loss,tricks,numpy_name", [
    ("minimax", {}, "minimax"),
    ("wasserstein", {}, "wasserstein"),
    ("minimax", {"r1": {"gamma": 0.3}}, "r1"),
    # Real data at 0 gives D(real) = 0: rpgan's D loss softplus(psi*theta - 0) has the ns D
    # loss's gradient and its G loss softplus(0 - psi*theta) is ns's, so ns's dynamics.
    ("rpgan", {}, "ns"),
])
def test_ganbench_runs_match_a_closed_form_simulation(loss, tricks, numpy_name):
    ours, trend, result = ganbench_dirac(loss, tricks)
    ref = numpy_dirac(numpy_name)
    assert result.status == "finished" and len(ours) == len(ref)
    assert dirac_trend(ref) == trend
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)


def test_unregularised_gan_does_not_converge_and_r1_does():
    for loss in ("minimax", "ns"):
        _, trend, _ = ganbench_dirac(loss)
        assert trend != "converges", loss
    dist, trend, _ = ganbench_dirac("minimax", {"r1": {"gamma": 0.3}})
    assert trend == "converges" and dist[-1] < 1e-3


def test_simultaneous_descent_reference_diverges_where_alternating_circles():
    # The reference's own check (the paper's eigenvalues 1 +- i h f'(0), |.| > 1): plain
    # bilinear simultaneous steps spiral out, alternating ones stay on a closed curve.
    theta, psi, d = 1.0, 1.0, []
    for _ in range(STEPS):
        theta, psi = theta + H * psi, psi - H * theta
        d.append(math.hypot(theta, psi))
    assert dirac_trend(d) == "diverges"
    assert dirac_trend(numpy_dirac("wasserstein")) == "circles"


def test_trend_rule():
    assert dirac_trend([1.0] * 40) == "circles"
    assert dirac_trend([0.9 ** i for i in range(40)]) == "converges"
    assert dirac_trend([1.1 ** i for i in range(40)]) == "diverges"
    assert dirac_trend([1.0, float("nan")]) == "diverges"
    assert dirac_trend([1.0] * 20 + [0.01] * 20) == "converges"


def test_dirac_entries_are_registered_as_the_paper_sets_them():
    data = DATASETS.get("dirac")(None)
    assert data.shape == (1,) and torch.equal(data.sample(5), torch.zeros(5, 1))
    torch.manual_seed(0)
    g, d = MODELS.get("dirac").build(1, (1,), "none")
    assert float(g.theta.detach()) == 1.0 and float(d.psi.detach()) == 1.0
    assert torch.equal(d(torch.tensor([[2.0]])), torch.tensor([2.0]))  # psi * x, no bias
    starts = set()
    for seed in range(4):
        torch.manual_seed(seed)
        g, d = MODELS.get("dirac_circle").build(1, (1,), "none")
        radius = math.hypot(float(g.theta.detach()), float(d.psi.detach()))
        assert radius == pytest.approx(math.sqrt(2))
        starts.add(round(float(g.theta.detach()), 6))
    assert len(starts) == 4  # seeds are initial points
    assert set(available_metrics("points", RunConfig(dataset="dirac"))) == {"dirac_dist",
                                                                             "dirac_trend"}
    assert "dirac_dist" not in available_metrics("points", RunConfig(dataset="ring8"))
