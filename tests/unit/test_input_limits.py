"""Input that used to exhaust memory or time (issue 13, item 8), caps on error output, the
library-level conflict check, and Ctrl-C handling helpers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from ganbench.config import ConfigError, RunConfig, SweepSpec
from ganbench.specs.load import load_run_config, load_sweep_spec
from ganbench.specs.sweep import check_size, grid_size
from ganbench.tracking import MemoryTracker
from ganbench.train import train
from ganbench.yamlfile import MAX_ERRORS, read_yaml


def load_error(fn, path) -> tuple[str, float]:
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        fn(path)
    return str(e.value), time.perf_counter() - t0


def test_many_unknown_keys_are_capped_and_fast(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("".join(f"key_{i}: {i}\n" for i in range(5_000)))
    msg, s = load_error(load_run_config, p)
    lines = msg.splitlines()
    assert len(lines) == MAX_ERRORS + 1 and lines[-1] == f"... and {5_000 - MAX_ERRORS} more"
    assert lines[0] == f"{p}:1: key_0: unknown field" and lines[19].startswith(f"{p}:20: ")
    assert s < 2.0


def test_line_lookup_is_indexed_not_rescanned(tmp_path):
    from ganbench.config import line_of

    p = tmp_path / "r.yaml"
    p.write_text("".join(f"k{i}: {i}\n" for i in range(50_000)))
    _, node = read_yaml(p)
    assert line_of(node, "k49999") == 50_000  # builds the index once
    t0 = time.perf_counter()
    assert [line_of(node, f"k{i}") for i in range(0, 50_000, 7)] == list(range(1, 50_001, 7))
    assert time.perf_counter() - t0 < 1.0  # a scan per lookup took minutes


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("k: v\n" * 2_200_000)  # 11 MB: used to run for minutes
    msg, s = load_error(load_sweep_spec, p)
    assert msg.startswith(f"{p}: 10.5 MiB is too large") and "GANBENCH_MAX_FILE_BYTES" in msg
    assert s < 2.0


def test_billion_laughs_is_refused_at_once(tmp_path):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
              for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    p = tmp_path / "bomb.yaml"
    p.write_text("name: bomb\ntricks:\n  ttur: [off, on]\n" + "\n".join(lines) + "\n")
    msg, s = load_error(load_sweep_spec, p)
    assert "expands to more than 100,000 values" in msg and s < 2.0


def test_small_aliases_still_work(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("name: al\nbase: &b {dataset: ring8, steps: 4}\ntricks:\n  ttur: [off, on]\n"
                 "axes:\n  steps: [4, 8]\n")
    spec, _ = load_sweep_spec(p)
    assert spec.base == {"dataset": "ring8", "steps": 4}


def test_grid_size_is_counted_not_built():
    tricks = {f"t{i}": ["off", "on", {}] for i in range(12)}
    spec = SweepSpec(name="big", tricks=tricks, seeds=3)
    assert grid_size(spec) == (531_441, 1_594_323)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"531,441 cells x 3 seeds = 1,594,323 runs.*"
                       r"--max-runs 1594323"):
        check_size(spec, "big.yaml", None, 10_000)
    assert time.perf_counter() - t0 < 0.1
    check_size(spec, "big.yaml", None, 2_000_000)  # raised: accepted
    assert grid_size(SweepSpec(name="s", seeds=100_000_000))[1] == 100_000_000


def test_library_train_runs_the_conflict_checks():
    cfg = RunConfig(loss="hinge", tricks={"label_smoothing": {}}, steps=2, batch_size=8)
    with pytest.raises(ConfigError, match="label_smoothing"):
        train(cfg, MemoryTracker())


def test_strict_numbers_and_device_names():
    for bad in ({"steps": True}, {"lr": False}, {"seed": True}, {"betas": [True, 0.9]},
                {"device": "tpu"}, {"device": "gpu"}, {"device": "cuda:"}):
        with pytest.raises(ValueError):
            RunConfig.model_validate(bad)
    for ok in ("auto", "cpu", "cuda", "cuda:3", "mps"):
        assert RunConfig(device=ok).device == ok  # spelling only; availability at start
    with pytest.raises(ValueError):
        SweepSpec.model_validate({"name": "x", "seeds": True})


def test_device_availability_message():
    import torch

    from ganbench.devices import check_device

    check_device("cpu")
    check_device("auto")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match=rf"'cuda:{n}' is not available.*this machine: cpu"):
        check_device(f"cuda:{n}")


def test_second_ctrl_c_is_ignored_while_the_first_is_handled():
    from ganbench.cli.errors import second_ctrl_c_ignored

    before = signal.getsignal(signal.SIGINT)
    handled = []
    with pytest.raises(KeyboardInterrupt):
        with second_ctrl_c_ignored():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                os.kill(os.getpid(), signal.SIGINT)  # the impatient second press
                time.sleep(0.2)
                handled.append(True)  # cleanup ran to the end
                raise
    try:
        # once the first fired the command is on its way out: a late press stays ignored
        assert handled == [True] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_handler_is_restored_when_no_ctrl_c_came():
    from ganbench.cli.errors import second_ctrl_c_ignored

    before = signal.getsignal(signal.SIGINT)
    with second_ctrl_c_ignored():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
