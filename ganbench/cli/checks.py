"""Options checked before anything is opened: a wrong folder, URI or device is one line.

A server that does not answer is found with a short TCP connect (CONNECT_TIMEOUT s) instead
of MLflow's and SQLAlchemy's retries, which printed nothing for minutes and then a traceback.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 3.0
TRACKING_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}


def _scheme(uri: str) -> str:
    return urlsplit(uri).scheme.split("+", 1)[0].lower()


def reachable(uri: str, what: str, option: str) -> None:
    """ValueError unless the server of a network URI accepts a TCP connection in time."""
    parts = urlsplit(uri)
    scheme = _scheme(uri)
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"{option} {_redact(uri)}: bad port number") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT) as sock:
            if scheme in ("postgresql", "mysql"):  # something listens: is it that server?
                from ganbench.cli.probe import database_server

                database_server(sock, scheme, f"{option} {_redact(uri)}", CONNECT_TIMEOUT)
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise ValueError(f"{option}: the {what} at {parts.hostname}:{port} did not answer "
                         f"within {CONNECT_TIMEOUT:g} s ({why}); start it, or check the "
                         "host and port") from None
    if scheme in ("http", "https"):  # something listens: is it MLflow? (probe.py)
        from ganbench.cli.probe import mlflow_server

        mlflow_server(uri, _redact(uri), option, CONNECT_TIMEOUT)


def _redact(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password:
        return uri.replace(f":{parts.password}@", ":***@")
    return uri


def tracking_uri(uri: str | None, source: str = "") -> None:
    """--tracking-uri: a scheme MLflow stores runs in, and a server that answers."""
    if uri is None:
        return
    if source:  # a URI recorded with the sweep: only whether its server answers
        reachable(uri, "MLflow tracking server" if _scheme(uri).startswith("http")
                  else "database", f"{source}--tracking-uri")
        return
    scheme = _scheme(uri)
    if scheme == "file" or (scheme == "" and "://" not in uri):
        raise ValueError(f"--tracking-uri {uri}: MLflow's file store is retired; use a "
                         "database, e.g. sqlite:///runs/mlflow.db, or an http(s) server")
    if scheme not in TRACKING_SCHEMES:
        raise ValueError(f"--tracking-uri {_redact(uri)}: unsupported scheme {scheme!r}; use "
                         "sqlite:///PATH, http(s)://HOST:PORT or postgresql://...")
    if scheme == "sqlite":
        path = uri.split(":///", 1)[-1] if ":///" in uri else ""
        if path and Path(path).is_dir():
            raise ValueError(f"--tracking-uri {uri}: {path} is a folder; name the database "
                             f"file, e.g. sqlite:///{Path(path) / 'mlflow.db'}")
        if path and Path(path).exists():  # a FIFO would block SQLite's open
            from ganbench.safefile import regular_file

            regular_file(path, "database file")
    reachable(uri, "MLflow tracking server" if scheme.startswith("http") else "database",
              "--tracking-uri")


def results_dir(results: Path | None) -> Path:
    """--results (or its default, when not given) if it can be a folder."""
    from ganbench.cli.common import results_folder

    results = results_folder(results)
    writable_path(results, "--results")
    if results.exists() and not results.is_dir():
        raise ValueError(f"--results {results}: is a file; give a folder (created if missing)")
    return results


def store_exists(uri: str) -> None:
    """A local SQLite store must exist: reading one that does not would create it empty."""
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise ValueError(f"no MLflow store at {uri[len('sqlite:///'):]}; run `ganbench sweep "
                         "FILE` first, or pass --results/--tracking-uri")


def system_metrics(on: bool) -> None:
    """--system-metrics needs psutil (MLflow's monitor imports it)."""
    import importlib.util

    if on and importlib.util.find_spec("psutil") is None:
        raise ValueError("--system-metrics needs psutil, which is not installed: "
                         "pip install 'ganbench[system]' (or pip install psutil)")


def storage(url: str | None) -> None:
    """--storage: a journal file (not a folder) or a database that answers."""
    if url is None:
        return
    if "://" in url and not url.startswith("journal:"):
        reachable(url, "storage database", "--storage")
        return
    path = Path(url.removeprefix("journal:"))
    writable_path(path, "--storage")
    if path.is_dir():
        raise ValueError(f"--storage {url}: is a folder; give the journal file, e.g. "
                         f"{path / 'study.journal'}")
    if path.exists():  # a FIFO or a device would block or never end the journal's read
        from ganbench.safefile import regular_file

        regular_file(path, "journal file")
    if path.parent != Path("") and path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"--storage {url}: {path.parent} is a file, not a folder")


def device(name: str, option: str = "--device", here: bool = True) -> None:
    """A device's spelling; with `here`, also that this machine has it."""
    import re

    from ganbench.config import DEVICE_PATTERN
    from ganbench.devices import check_device, describe

    if here:
        check_device(name, option)
    elif not re.match(DEVICE_PATTERN, name):
        raise ValueError(f"{option}: {name!r} is not a device: use auto, cpu, cuda or cuda:N "
                         f"({describe()})")


def line_in(path: Path, *loc: str) -> int | str:
    """The line of a field in a file already read once (for an error found after loading)."""
    from ganbench.config import line_of, read_yaml

    return line_of(read_yaml(Path(path))[1], *loc)


def sweep_name(name: str) -> str:
    """A sweep's name given on the command line, checked with the sweep file's rules before
    it becomes a path (a 300-character name ended in `OSError: File name too long`)."""
    from ganbench.limits import name_problem

    problem = name_problem(name)
    if problem:
        shown = name if len(name) <= 60 else name[:40] + "..."
        raise ValueError(f"sweep {shown!r}: {problem}")
    return name


def writable_path(path: Path, option: str) -> None:
    """A path the file system would refuse (a part over NAME_MAX, say) is one line now, not
    an OSError after the work is done."""
    from ganbench.safefile import path_problem

    problem = path_problem(path)
    if problem:
        shown = str(path) if len(str(path)) <= 80 else str(path)[:60] + "..."
        raise ValueError(f"{option} {shown}: cannot be created: {problem}")
