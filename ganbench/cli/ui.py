"""`ganbench ui`: the MLflow UI on the sweeps' store, stopped cleanly with all its children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console

from ganbench.cli import checks
from ganbench.cli.common import RESULTS
from ganbench.cli.errors import user_errors

console = Console()


def ui(
    results: Path = RESULTS,
    tracking_uri: str = typer.Option(None, "--tracking-uri",
                                     help="Store to open instead (sqlite:///..., postgresql://...)."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind; 0.0.0.0 shows the UI to the whole network."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port of the UI."),
) -> None:
    """Start the MLflow UI on the sweeps' store (default: runs/mlflow.db on 127.0.0.1)."""
    _serve(results, tracking_uri, host, port)


@user_errors
def _serve(results: Path, tracking_uri: str | None, host: str, port: int) -> None:
    from ganbench.store.mlflow import default_tracking_uri

    results = checks.results_dir(results)
    checks.tracking_uri(tracking_uri)
    uri = tracking_uri or default_tracking_uri(results)
    checks.store_exists(uri)  # MLflow would create an empty store and serve nothing
    # The GenAI job runner (a huey consumer and its workers) serves nothing ganbench records.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # Its own process group: mlflow starts uvicorn workers and more, which a plain terminate
    # of mlflow's own process leaves running; the whole group is stopped together.
    proc = subprocess.Popen(_command(uri, host, port), env=env, start_new_session=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with console.status(f"starting the MLflow UI for {uri}"):
            up = _answers(proc, host, port)
        if up:  # links printed once they work (the server takes ~25 s on a small machine)
            console.print(f"MLflow UI for {uri} at http://{host}:{port}  (Ctrl-C to stop)",
                          highlight=False)
            _print_views(uri, f"http://{host}:{port}")
        elif proc.poll() is None:
            console.print(f"[yellow]note[/]: the MLflow UI has not answered on {host}:{port} "
                          f"after {WAIT_S} s; still waiting for it (Ctrl-C to stop)",
                          highlight=False)
        code = proc.wait()
        if not up:
            console.print(f"[red]error:[/] the MLflow UI exited (code {code}) before it "
                          "answered; its messages are above", highlight=False)
            raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_group(proc)


WAIT_S = 180  # how long the links wait for the server before a note says it is slow


def _command(uri: str, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
            "--host", host, "--port", str(port)]


def _answers(proc: subprocess.Popen, host: str, port: int) -> bool:
    """Wait until the server accepts a connection (True), exits, or WAIT_S pass (False)."""
    import socket
    import time

    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    deadline = time.monotonic() + WAIT_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((target, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.25)
    return False


def _print_views(uri: str, base: str) -> None:
    """Each sweep's runs table, sorted by score with its trick columns shown (a link: MLflow
    cannot make a view the default one)."""
    from ganbench.store.mlflow import MLflowStore, view_url

    store = MLflowStore(uri)
    for name in store.sweep_names():
        exp = store.find_experiment(name)
        if exp is not None:
            console.print(f"  sweep {name}: {view_url(base, exp)}", highlight=False,
                          soft_wrap=True)


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # mlflow itself has exited; its children may still be winding down
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
