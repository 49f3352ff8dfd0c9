"""n_critic (Arjovsky et al. 2017): D steps per G step."""

from __future__ import annotations

from helpers.tricks import cfg

from ganbench.train import Trainer


def test_n_critic_runs_that_many_d_steps(tmp_path):
    tr = Trainer(cfg(tmp_path, tricks={"n_critic": {"steps": 3}}))
    for step in range(4):
        tr.step(step)
    assert tr.d_steps_done == 12
    plain = Trainer(cfg(tmp_path))
    plain.step(0)
    assert plain.d_steps_done == 1
