"""Issue 27: numbers that are valid but cannot be run, refused by one check (limits.py)."""

from __future__ import annotations

import math

import pytest
import typer

from ganbench import limits
from ganbench.cli.errors import user_errors


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300, 2**64, -(2**40),
                                   [1, [2, math.nan]], {"a": {"b": math.inf}}, (0.5, 2**70)])
def test_sane_refuses_what_cannot_run(value):
    with pytest.raises(ValueError):
        limits.sane(value)


@pytest.mark.parametrize("value", [0, 1e-8, 2**32 - 1, -1e12, True, "inf", None, [1, 2.5]])
def test_sane_passes_ordinary_values(value):
    assert limits.sane(value) is value


def test_a_huge_integer_is_not_printed_in_full():
    with pytest.raises(ValueError, match="a 101-digit number"):
        limits.sane(10**100)


def test_work_message_names_the_size_and_the_option():
    assert limits.work_message("x", 10, 10) is None
    assert "11 runs" in limits.work_message("x", 11, 10) and "--max-runs 11" in (
        limits.work_message("x", 11, 10))


def test_running_out_of_memory_is_one_line(capsys):
    @user_errors
    def big():
        raise MemoryError("Unable to allocate 100. TiB for an array")

    with pytest.raises(typer.Exit) as e:
        big()
    assert e.value.exit_code == 2


def test_torch_cpu_allocation_failure_is_one_line_and_other_errors_pass(capsys):
    @user_errors
    def cpu():
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 1099511627776 bytes")

    with pytest.raises(typer.Exit):
        cpu()

    @user_errors
    def bug():
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        bug()


def test_score_overrides_get_the_same_limits_in_one_line():
    from ganbench.config import RunConfig
    from ganbench.scoring import with_overrides

    for bad in ({"fid_batch_size": 10**9}, {"eval_samples": 10**12}, {"fid_samples": "x"}):
        with pytest.raises(ValueError) as e:
            with_overrides(RunConfig(), bad)
        assert str(e.value).startswith(f"--set {next(iter(bad))}: ") and "\n" not in str(e.value)


def test_a_database_damaged_mid_query_is_one_line():
    import sqlite3

    @user_errors
    def read():
        raise sqlite3.DatabaseError("database disk image is malformed")

    with pytest.raises(typer.Exit) as e:
        read()
    assert e.value.exit_code == 2


def test_evaluation_work_counts_a_named_protocols_images(tmp_path):
    # mimicry generates 50k images per evaluation whatever fid_samples says: 100k
    # evaluations x (2,500 + 50,000) is over the limit, x (2,500 + 10) would not be.
    from ganbench.config import ConfigError
    from ganbench.specs.load import load_run_config

    p = tmp_path / "run.yaml"
    body = ("dataset: cifar10\nmodel: sngan32\nsteps: 100000\neval_every: 1\n"
            "image_metrics: [fid]\nfid_samples: 10\nfid_real_samples: 10\n")
    p.write_text(body)
    assert load_run_config(p).fid_samples == 10  # 2.5e8 samples: under the limit
    p.write_text(body.replace("fid_samples: 10\nfid_real_samples: 10\n",
                              "fid_protocol: mimicry\n"))
    with pytest.raises(ConfigError, match=r"run\.yaml:4: eval_every: 100,000 evaluations x "
                       r"52,500 samples"):
        load_run_config(p)
