"""CLI mistakes (issue 13): wrong options, folders, URIs, devices, unreachable servers; each
one short line, no traceback, under 2 s. Plus property-based files (hypothesis) and a few real
subprocesses to show the installed command agrees with the in-process one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.fuzz import Payload, assert_short_error, signed_checkpoint, timed, warm  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganbench.config import RunConfig
from ganbench.tricks import TRICKS

SWEEP = "name: fz\nbase: {dataset: ring8, steps: 4, batch_size: 8}\ntricks:\n  ttur: [off, on]\n"
GPU = torch.cuda.is_available()


def closed_port() -> int:
    """A local port nothing listens on (connect is refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def files(tmp_path):
    sweep = tmp_path / "sw.yaml"
    sweep.write_text(SWEEP)
    run = tmp_path / "run.yaml"
    run.write_text("dataset: ring8\nsteps: 4\n")
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it would block forever
    os.mkfifo(tmp_path / "pipe.py")
    signed_checkpoint(tmp_path / "noconf.pt", {"format": 1, "g": {}})
    signed_checkpoint(tmp_path / "payload.pt", {"format": 1, "config": "{}",
                                                "x": Payload(tmp_path / "MARKER")})
    torch.save({"x": Payload(tmp_path / "MARKER")}, tmp_path / "payload_weights.pt")
    return tmp_path


def cases(t: Path) -> list[tuple[list, list[str]]]:
    port = closed_port()
    sw, run, f, d = t / "sw.yaml", t / "run.yaml", t / "a_file", t / "a_dir"
    res = ["--results", t / "res"]
    out = [
        (["sweep", sw, *res, "--tracking-uri", "bogus://x"], ["unsupported scheme"]),
        (["sweep", sw, *res, "--tracking-uri", "file:///tmp/x"], ["file store"]),
        (["sweep", sw, *res, "--tracking-uri", "mlruns"], ["file store"]),
        (["sweep", sw, *res, "--tracking-uri", f"http://127.0.0.1:{port}"], ["did not answer"]),
        (["sweep", sw, *res, "--tracking-uri", f"https://127.0.0.1:{port}"], ["did not answer"]),
        (["sweep", sw, *res, "--tracking-uri", f"postgresql://u:pw@127.0.0.1:{port}/db"],
         ["database at 127.0.0.1"]),
        (["sweep", sw, *res, "--tracking-uri", "http://127.0.0.1:99999"], ["port"]),
        (["sweep", sw, *res, "--tracking-uri", f"sqlite:///{d}"], ["is a folder"]),
        (["sweep", sw, "--results", f], ["is a file"]),
        (["sweep", sw, *res, "--storage", d], ["is a folder"]),
        (["sweep", sw, *res, "--storage", f"journal:{d}"], ["is a folder"]),
        (["sweep", sw, *res, "--storage", f / "x.journal"], ["is a file"]),
        (["sweep", sw, *res, "--storage", f"postgresql://u@127.0.0.1:{port}/db"],
         ["storage database"]),
        (["sweep", sw, *res, "--device", "tpu"], ["not a device", "this machine"]),
        (["sweep", sw, *res, "--device", "gpu", "--workers", "0"], ["not a device"]),
        (["sweep", sw, *res, "--device", "cuda:x"], ["not a device"]),
        (["sweep", sw, *res, "--device", "cuda:7"], ["not available"]),
        (["sweep", sw, *res, "--max-runs", "1"], ["6 runs", "--max-runs 6"]),
        (["sweep", t / "missing.yaml"], ["cannot read"]),
        (["sweep", d], ["is a folder"]),
        (["sweep", run], ["this is a run file"]),
        (["sweep", sw, *res, "--weights", t / "nope.pt"], ["no such file"]),
        (["sweep", sw, *res, "--weights", f], ["refused to unpickle"]),
        (["run", run, "--device", "tpu"], ["not a device"]),
        (["run", run, "--device", "cuda:7"], ["not available"]),
        (["run", t / "missing.yaml"], ["cannot read"]),
        (["run", d], ["is a folder"]),
        (["run", sw], ["this is a sweep file"]),
        (["run", run, "--weights", f], ["refused to unpickle"]),
        (["report", "fz", "--results", f], ["is a file"]),
        (["report", "fz", *res], ["no MLflow store"]),
        (["report", "fz", "--tracking-uri", f"http://127.0.0.1:{port}"], ["did not answer"]),
        (["report", "fz", "--tracking-uri", "bogus://x"], ["unsupported scheme"]),
        (["report", t / "missing.yaml"], ["no such sweep file"]),
        (["report", run], ["this is a run file"]),
        (["worker", "fz", *res], ["no local sweep"]),
        (["worker", "fz", "--results", f], ["is a file"]),
        (["worker", "fz", *res, "--storage", d], ["is a folder"]),
        (["worker", "fz", *res, "--tracking-uri", f"http://127.0.0.1:{port}"],
         ["did not answer"]),
        (["worker", "fz", *res, "--device", "tpu"], ["not a device"]),
        (["worker", "fz", *res, "--grace-period", "5", "--heartbeat-interval", "10"],
         ["--grace-period"]),
        (["worker", "fz", *res, "--storage", f"postgresql://u@127.0.0.1:{port}/db"],
         ["did not answer"]),
        (["status", "fz", *res], ["no local sweep"]),
        (["status", "fz", "--results", f], ["is a file"]),
        (["status", "fz", *res, "--storage", d], ["is a folder"]),
        (["status", "fz", *res, "--storage", f"postgresql://u@127.0.0.1:{port}/db"],
         ["did not answer"]),
        # issue 27: a sweep's name given on the command line has the sweep file's rules
        *[([cmd, "n" * 300, *res], ["too long for a folder name"])
          for cmd in ("report", "status", "worker")],
        (["status", "../up", *res], ["cannot be a folder name"]),
        (["run", run, "--no-mlflow", "--out", t / ("o" * 300)], ["--out", "255"]),
        (["sweep", sw, "--results", t / ("r" * 300) / "x"], ["--results", "255"]),
        (["status", "fz", *res, "--storage", t / ("j" * 300)], ["--storage", "255"]),
        # issue 27: not regular files (a FIFO blocked forever, /dev/zero filled memory)
        *[([cmd, t / "pipe.yaml", *extra], ["named pipe"]) for cmd, extra in
          (("sweep", []), ("sweep", ["--dry-run"]), ("run", []), ("report", []))],
        (["sweep", "/dev/zero"], ["character device"]), (["run", "/dev/zero"], ["device"]),
        (["sweep", sw, *res, "--weights", t / "pipe.yaml"], ["named pipe"]),
        (["run", run, "--weights", "/dev/zero"], ["character device"]),
        (["weights", "fetch", "--weights", t / "pipe.yaml"], ["named pipe"]),
        (["status", "fz", *res, "--storage", t / "pipe.yaml"], ["named pipe"]),
        (["sweep", sw, *res, "--storage", t / "pipe.yaml"], ["named pipe"]),
        (["report", "fz", "--tracking-uri", f"sqlite:///{t / 'pipe.yaml'}"], ["named pipe"]),
        (["tricks", "verify", "--plugin", t / "pipe.py"], ["named pipe"]),
        # issue 27: checkpoints that verify but do not fit
        (["score", t / "noconf.pt", "--no-mlflow"], ["noconf.pt", "no 'config'"]),
        (["score", t / "payload.pt", "--no-mlflow"], ["payload.pt", "GLOBAL"]),
        (["score", t / "pipe.yaml", "--no-mlflow"], ["named pipe"]),
        (["sweep", sw, *res, "--weights", t / "payload_weights.pt"], ["GLOBAL"]),
        (["weights", "fetch", "--weights", t / "payload_weights.pt"], ["GLOBAL"]),
        (["tricks", "show", "spectral_nrom"], ["did you mean 'spectral_norm'"]),
        (["weights", "fetch", "--source", "nowhere"], ["--source"]),
    ]
    if GPU:  # this machine has the GPU these ask for
        out = [c for c in out if "cuda:7" not in c[0] or torch.cuda.device_count() < 8]
    return out


def test_cli_mistakes(files):
    all_cases = cases(files)
    assert len(all_cases) >= 40
    for args, needles in all_cases:
        r, s = timed(*args)
        try:
            assert_short_error(r, s, *needles)
        except AssertionError as e:
            raise AssertionError(f"ganbench {' '.join(map(str, args))}: {e}") from None
    assert "pw" not in timed(*all_cases[5][0])[0].stderr  # a password is never echoed
    assert not (files / "MARKER").exists()  # no payload ran


def test_cuda_without_a_gpu_is_refused_before_any_run(files):
    if GPU:
        pytest.skip("this machine has a GPU")
    r, s = timed("sweep", files / "sw.yaml", "--results", files / "res", "--device", "cuda")
    assert_short_error(r, s, "not available", "no CUDA GPU")
    assert not (files / "res").exists()  # nothing opened, nothing enqueued


# ------------------------------------------------------------------ property-based files

FIELDS = set(RunConfig.model_fields)
name_st = st.from_regex(r"[a-z][a-z_]{2,14}", fullmatch=True)
fast = settings(max_examples=25, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@fast
@given(key=name_st.filter(lambda k: k not in FIELDS and k not in ("seeds", "base", "axes",
                                                                  "design", "metric",
                                                                  "resolution")))
def test_any_unknown_run_key_is_named_with_its_line(tmp_path, key):
    p = tmp_path / "r.yaml"
    p.write_text(f"dataset: ring8\nsteps: 4\n{key}: 1\n")
    r, s = timed("run", p)
    assert_short_error(r, s, key, "unknown field", path=p, line=3)


@fast
@given(word=st.text(st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=20)
       .filter(lambda w: w.lower() not in ("true", "false", "yes", "no", "on", "off", "null",
                                           "y", "n", "inf", "nan")))
def test_any_word_for_steps_is_refused_with_its_line(tmp_path, word):
    p = tmp_path / "r.yaml"
    p.write_text(f"dataset: ring8\nsteps: \"{word}\"\n", encoding="utf-8")
    r, s = timed("run", p)
    assert_short_error(r, s, "steps", path=p, line=2)


@fast
@given(name=name_st.filter(lambda n: n not in TRICKS))
def test_any_unknown_trick_in_a_sweep_is_placed(tmp_path, name):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: fz\ntricks:\n  ttur: [off, on]\n  {name}: [off, on]\n")
    r, s = timed("sweep", p, "--dry-run")
    assert_short_error(r, s, f"unknown trick {name!r}", path=p, line=4)


@fast
@given(data=st.binary(min_size=1, max_size=200), at=st.integers(0, 200))
def test_any_binary_content_names_the_file(tmp_path, data, at):
    p = tmp_path / "b.yaml"
    p.write_bytes(data[:at] + b"\0" + data[at:])
    r, s = timed("sweep", p, "--dry-run")
    assert_short_error(r, s, "binary", path=p)


@fast
@given(n=st.integers(2, 40), key=st.sampled_from(["steps", "lr", "batch_size", "seed"]))
def test_a_repeated_key_anywhere_names_both_lines(tmp_path, n, key):
    lines = [f"# line {i}" for i in range(n)]
    p = tmp_path / "r.yaml"
    p.write_text(f"{key}: 1\n" + "\n".join(lines) + f"\n{key}: 2\n")
    r, s = timed("run", p)
    assert_short_error(r, s, f"duplicate key {key!r}", "first at line 1", path=p, line=n + 2)


# ------------------------------------------------------------------ the installed command


@pytest.mark.slow  # ~80 s of parallel interpreter start-ups on a busy 2-core machine
def test_installed_command_agrees(tmp_path):
    """Real processes (in parallel: each start costs seconds of imports): the same one line."""
    exe = Path(sys.executable).with_name("ganbench")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "ganbench"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: fz\ntricks:\n  turr: [off, on]\n")
    good = tmp_path / "sw.yaml"
    good.write_text(SWEEP)
    runs = [(["sweep", bad, "--dry-run"], f"{bad}:3"), (["run", good], "this is a sweep file"),
            (["sweep", good, "--tracking-uri", f"http://127.0.0.1:{closed_port()}",
              "--results", tmp_path / "r"], "did not answer")]
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    t0 = time.monotonic()
    procs = [subprocess.Popen([*cmd, *map(str, a)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for a, _ in runs]
    for p, (args, needle) in zip(procs, runs, strict=True):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 2, (args, out, err)
        assert "Traceback" not in out + err and err.strip().startswith("error:"), err
        assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert time.monotonic() - t0 < 300


# ------------------------------------------------------------------ issue 27: absurd numbers


def assert_refused(result, *needles: str) -> None:
    """Exit != 0, at most 25 lines, no traceback (click's own usage box is allowed)."""
    out = result.output
    assert result.exit_code not in (0, None), out
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in out and len(out.strip().splitlines()) <= 25, out
    flat = " ".join(out.split()).replace("│", "")
    for needle in needles:
        assert needle in flat or needle in " ".join(flat.split()), f"{needle!r} not in {out}"


def test_absurd_numbers_on_the_command_line(files):
    t = files
    sw, run, res = t / "sw.yaml", t / "run.yaml", ["--results", t / "res"]
    table = [
        (["sweep", sw, *res, "--workers", "1000000000"], "--workers"),
        (["sweep", sw, *res, "--max-runs", "10" * 20], "--max-runs"),
        (["sweep", sw, *res, "--checkpoint-every", "9" * 30], "--checkpoint-every"),
        (["run", run, "--steps", "99999999999999999999999"], "--steps"),
        (["run", run, "--seed", str(2**64)], "--seed"),
        (["worker", "fz", *res, "--processes", "100000"], "--processes"),
        (["worker", "fz", *res, "--threads", "1000000"], "--threads"),
        (["worker", "fz", *res, "--heartbeat-interval", "9" * 25], "--heartbeat-interval"),
        (["worker", "fz", *res, "--grace-period", "9" * 25], "--grace-period"),
        (["score", t, "--fid-samples", "1000000000000"], "--fid-samples"),
        (["score", t, "--eval-samples", "1000000000000"], "--eval-samples"),
    ]
    for args, needle in table:
        r, s = timed(*args)
        try:
            assert_refused(r, needle)
            assert s < 5, f"took {s:.1f} s"
        except AssertionError as e:
            raise AssertionError(f"ganbench {' '.join(map(str, args))}: {e}") from None


def test_what_could_hang_answers_in_real_processes(tmp_path):
    """A FIFO, /dev/zero and a server that never answers, in real processes with a timeout:
    a regression would hang the in-process tests instead of failing them."""
    os.mkfifo(tmp_path / "pipe.yaml")
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    runs = [["sweep", tmp_path / "pipe.yaml"], ["run", "/dev/zero"],
            ["report", "fz", "--tracking-uri", f"http://127.0.0.1:{mute.getsockname()[1]}"]]
    procs = [subprocess.Popen([sys.executable, "-m", "ganbench", *map(str, a)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path) for a in runs]
    try:
        for p, args in zip(procs, runs, strict=True):
            out, err = p.communicate(timeout=120)
            assert p.returncode == 2, (args, out, err)
            assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        mute.close()
