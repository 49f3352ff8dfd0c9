"""Ending a process without interpreter teardown (ganbench/procexit.py): it must still do
what a normal exit does — wake and join thread pools, run atexit handlers, flush output,
keep the exit status — or a sweep's controller could hang or lose its last lines."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ganbench.procexit import exit_code


def _run(body: str, timeout: float = 60) -> subprocess.CompletedProcess:
    code = "from ganbench.procexit import run_then_exit\n" + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout)


def test_a_live_thread_pool_does_not_hang_the_exit():
    # The MLflow artifact repository keeps such a pool; joining its idle thread before the
    # pool's own exit hook ran hung the command (seen while building this).
    got = _run("""
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(2)
        pool.submit(print, "from the pool").result()
        run_then_exit(lambda: print("done", end=""))
    """, timeout=30)
    assert got.returncode == 0
    assert got.stdout.endswith("done")  # unflushed output still arrives


def test_atexit_handlers_and_non_daemon_threads_finish_first(tmp_path):
    out = tmp_path / "order.txt"
    got = _run(f"""
        import atexit, threading, time
        path = {str(out)!r}
        atexit.register(lambda: open(path, "a").write("atexit\\n"))
        def slow():
            time.sleep(0.3)
            open(path, "a").write("thread\\n")
        threading.Thread(target=slow).start()
        run_then_exit(lambda: None)
    """)
    assert got.returncode == 0, got.stderr
    assert out.read_text().splitlines() == ["thread", "atexit"]


@pytest.mark.parametrize(("body", "code"), [
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit(None)", 0),
    ("import sys; sys.exit('a message')", 1),
])
def test_the_exit_status_is_kept(body, code):
    got = _run(f"def f():\n    {body}\nrun_then_exit(f)\n")
    assert got.returncode == code
    if code == 1:
        assert "a message" in got.stderr


def test_a_typer_apps_exit_status_is_kept():  # how `ganbench` itself runs (cli.main)
    got = _run("""
        import typer
        app = typer.Typer()
        @app.command()
        def interrupted() -> None:
            raise typer.Exit(130)
        run_then_exit(app)
    """)
    assert got.returncode == 130


def test_an_unexpected_error_still_prints_its_traceback():
    got = _run("def f():\n    raise RuntimeError('boom')\nrun_then_exit(f)\n")
    assert got.returncode == 1
    assert "RuntimeError: boom" in got.stderr and "Traceback" in got.stderr


def test_exit_code_reads_system_exit_as_sys_exit_does():
    assert exit_code(SystemExit(None)) == 0
    assert exit_code(SystemExit(7)) == 7
