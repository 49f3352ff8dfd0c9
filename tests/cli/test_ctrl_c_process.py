"""A real Ctrl-C (SIGINT to the whole process group, as a terminal sends it) twice while the
workers start: no traceback from any worker, exit 130, and the sweep's parent run is KILLED,
not left RUNNING."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.slow  # ~1 min of interpreter start-ups on a busy 2-core machine
def test_double_ctrl_c_while_workers_start(tmp_path):
    spec = tmp_path / "sw.yaml"
    spec.write_text("name: cc\nbase: {dataset: ring8, steps: 400, batch_size: 8, log_every: 50,"
                    " eval_samples: 50}\ntricks:\n  ttur: [off, on]\nseeds: 2\n")
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    res = tmp_path / "res"
    p = subprocess.Popen([sys.executable, "-m", "ganbench", "sweep", str(spec), "--workers", "2",
                          "--results", str(res), "--device", "cpu"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    for line in p.stdout:  # the workers are spawned right after this line
        if "worker(s)" in line:
            break
    time.sleep(1.0)  # they are importing torch now
    os.killpg(p.pid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(p.pid, signal.SIGINT)  # the impatient second press
    out, err = p.communicate(timeout=240)
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in out

    from ganbench.store.mlflow import MLflowStore, default_tracking_uri

    store = MLflowStore(default_tracking_uri(res))
    parent = store.find_parent(store.find_experiment("cc"))
    assert store.client.get_run(parent).info.status == "KILLED"
