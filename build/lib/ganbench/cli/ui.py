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
    from ganbench.tracking.mlflow import default_tracking_uri

    results = checks.results_dir(results)
    checks.tracking_uri(tracking_uri)
    uri = tracking_uri or default_tracking_uri(results)
    checks.store_exists(uri)  # MLflow would create an empty store and serve nothing
    console.print(f"MLflow UI for {uri} at http://{host}:{port}  (Ctrl-C to stop)",
                  highlight=False)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", host, "--port", str(port)]
    # The GenAI job runner (a huey consumer and its workers) serves nothing ganbench records.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    # Its own process group: mlflow starts uvicorn workers and more, which a plain terminate
    # of mlflow's own process leaves running; the whole group is stopped together.
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_group(proc)


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
