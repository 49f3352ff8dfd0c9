"""Real servers for tests and benchmarks: a throw-away PostgreSQL cluster and an `mlflow server`.

    with PostgresCluster() as pg, MLflowServer(pg.create_database("mlflow")) as ml:
        Queue(pg.url(), "sweep")          # Optuna RDB storage on PostgreSQL
        MLflowStore(ml.uri)               # http://127.0.0.1:PORT, artifacts proxied by the server

Both listen on 127.0.0.1 only, on a free port, and live in their own temp folder, which is
deleted on exit (also when the body raises, and at interpreter exit as a last resort).
Measured on a 2-core machine: PostgreSQL starts in ~1 s (initdb included), the MLflow server
in ~5-8 s (its first start on an empty database runs MLflow's schema migrations).

Note on URLs: SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, while ganbench depends
on psycopg2 (psycopg2-binary); `url()` therefore names the driver: `postgresql+psycopg2://`.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PG_ROOTS = (Path("/usr/lib/postgresql"),)  # Debian/Ubuntu: /usr/lib/postgresql/<ver>/bin
PG_TOOLS = ("initdb", "pg_ctl", "postgres")


class ServerError(RuntimeError):
    """A server failed to start; the message holds the command's output and the log tail."""


class PostgresUnavailable(ServerError):
    """PostgreSQL is missing here and cannot be installed (tests skip with this message)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------------ PostgreSQL


def _version_key(p: Path) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.\-]", p.parent.name))


def find_postgres() -> Path | None:
    """The bin dir holding initdb, pg_ctl and postgres: $GANBENCH_PG_BIN, Debian's
    /usr/lib/postgresql/<newest>/bin, or the folder of an `initdb` on PATH."""
    candidates = []
    if os.environ.get("GANBENCH_PG_BIN"):
        candidates.append(Path(os.environ["GANBENCH_PG_BIN"]))
    for root in PG_ROOTS:
        candidates += sorted(root.glob("*/bin"), key=_version_key, reverse=True)
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for c in candidates:
        if all(os.access(c / t, os.X_OK) for t in PG_TOOLS):
            return c
    return None


def _online_clusters() -> set[str]:
    """Debian's system clusters that are running ("15/main"), via pg_lsclusters."""
    if not shutil.which("pg_lsclusters"):
        return set()
    r = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    return {f"{f[0]}/{f[1]}" for f in (ln.split() for ln in r.stdout.splitlines())
            if len(f) > 3 and f[3].startswith("online")}


def ensure_postgres() -> Path:
    """PostgreSQL's bin dir; installs Debian's `postgresql` when missing and we are root.

    Raises PostgresUnavailable (with the reason) when it is missing and cannot be installed.
    The Debian package may start its own `main` cluster on port 5432; one that this install
    started is stopped again (the tests run their own clusters; nothing is left running).
    """
    found = find_postgres()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
            "/usr/lib/postgresql/*/bin or on PATH; install them (Debian: `apt-get install "
            "postgresql`, which `make test` does as root) or set GANBENCH_PG_BIN")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    before = _online_clusters()
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    r = subprocess.run(install, env=env, capture_output=True, text=True)
    if r.returncode != 0:  # a stale package index: refresh once, then retry
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        r = subprocess.run(install, env=env, capture_output=True, text=True)
    for cluster in _online_clusters() - before:
        ver, name = cluster.split("/")
        subprocess.run(["pg_ctlcluster", ver, name, "stop"], capture_output=True)
    found = find_postgres()
    if found is None:
        raise PostgresUnavailable("`apt-get install postgresql` did not provide PostgreSQL:\n"
                                + (r.stdout + r.stderr)[-2000:])
    return found


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs initdb/postgres: ourselves, or (as root, which PostgreSQL refuses) the
    `postgres` account the Debian package creates, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither a `postgres` nor a `nobody` account "
                            "exists to run PostgreSQL as")


def _as_user(user: pwd.struct_passwd | None, cmd: list[str]) -> list[str]:
    if user is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user.pw_name, "--", *cmd]
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
            "--", *cmd]


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


class PostgresCluster:
    """A private PostgreSQL cluster in a temp dir, listening on 127.0.0.1:<free port>.

    Trust authentication (no password), fsync off; superuser `user`, a first database `db`.
    url(dbname) -> 'postgresql+psycopg2://USER@127.0.0.1:PORT/DBNAME';
    create_database(name) -> its url. On exit: `pg_ctl stop -m immediate`, temp dir removed.
    """

    def __init__(self, db: str = "ganbench", user: str = "ganbench", *,
                 bin_dir: Path | None = None, timeout: float = 60.0) -> None:
        self.db, self.user, self.timeout = db, user, timeout
        self.bin_dir = bin_dir
        self.port: int | None = None
        self.tmp: Path | None = None
        self.started_in: float | None = None  # seconds, initdb included
        self._os_user = None

    # -- paths and commands
    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def log_path(self) -> Path:
        return self.tmp / "postgres.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        cmd = _as_user(self._os_user, [str(self.bin_dir / args[0]), *args[1:]])
        r = subprocess.run(cmd, env=env, cwd=self.tmp, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=self.timeout)
        if check and r.returncode != 0:
            raise ServerError(f"{' '.join(args[:2])} failed ({r.returncode}):\n"
                              f"{r.stdout}{r.stderr}\n--- postgres.log ---\n"
                              f"{_tail(self.log_path)}")
        return r

    def url(self, dbname: str | None = None, driver: str | None = "psycopg2") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}@127.0.0.1:{self.port}/{dbname or self.db}"

    # -- life cycle
    def start(self) -> PostgresCluster:
        """initdb, start, create the first database; cleans up after itself on failure."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PostgresCluster:
        t0 = time.monotonic()
        self.bin_dir = self.bin_dir or ensure_postgres()
        self._os_user = _unprivileged_user()
        base = Path(tempfile.gettempdir())
        if self._os_user is not None and not _traversable_by_others(base):
            base = Path("/tmp")  # the postgres account must reach its data dir
        self.tmp = Path(tempfile.mkdtemp(prefix="ganbench-pg-", dir=base))
        atexit.register(self.stop)
        if self._os_user is not None:
            os.chown(self.tmp, self._os_user.pw_uid, self._os_user.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        for attempt in range(3):  # the free port may be taken between choosing and binding
            self.port = free_port()
            with open(self.data_dir / "postgresql.conf", "a") as f:
                f.write(f"\n# ganbench test cluster\nlisten_addresses = '127.0.0.1'\n"
                        f"port = {self.port}\nunix_socket_directories = '{self.tmp}'\n"
                        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            r = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                          "-t", str(int(self.timeout)), "start", check=attempt == 2)
            if r.returncode == 0:
                break
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.db)
        self.started_in = time.monotonic() - t0
        return self

    def create_database(self, name: str) -> str:
        """Create a database (owned by the superuser); returns its url."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediate) and delete the temp dir; safe to call twice."""
        if self.tmp is None:
            return
        atexit.unregister(self.stop)
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            try:
                ok = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w",
                               "stop", check=False).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            if not ok and pid_file.exists():  # pg_ctl failed: end the postmaster
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------ MLflow


class MLflowServer:
    """`mlflow server` on 127.0.0.1:<free port> with a SQL backend store, proxying artifacts
    (--serve-artifacts) to `artifacts_dir` (a temp folder unless given).

    .uri = 'http://127.0.0.1:PORT'. Runs in its own process group (killed on exit); its log
    is `log_path`, and its tail is part of the error when it does not come up.
    """

    def __init__(self, backend_store_uri: str, artifacts_dir: Path | None = None, *,
                 timeout: float = 120.0, extra_args: tuple[str, ...] = ()) -> None:
        self.backend_store_uri = backend_store_uri
        self.timeout = timeout
        self.extra_args = tuple(extra_args)
        self._own_artifacts = artifacts_dir is None
        self.artifacts_dir = artifacts_dir
        self.tmp: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.started_in: float | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.tmp / "mlflow-server.log"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def start(self) -> MLflowServer:
        """Start and wait for /health; cleans up (log tail in the error) on failure."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> MLflowServer:
        t0 = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="ganbench-mlflow-"))
        atexit.register(self.stop)
        if self.artifacts_dir is None:
            self.artifacts_dir = self.tmp / "artifacts"
        self.artifacts_dir = Path(self.artifacts_dir).resolve()
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # a port taken meanwhile shows as an early exit
            self.port = free_port()
            cmd = [sys.executable, "-m", "mlflow", "server",
                   "--backend-store-uri", self.backend_store_uri,
                   "--serve-artifacts", "--artifacts-destination", str(self.artifacts_dir),
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                   *self.extra_args]
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            env.pop("MLFLOW_TRACKING_URI", None)
            # MLflow 3's job runner (GenAI jobs: 8 extra processes) is of no use to ganbench
            env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=self.tmp, env=env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            end = time.monotonic() + self.timeout
            while time.monotonic() < end and self.proc.poll() is None:
                if self._healthy():
                    self.started_in = time.monotonic() - t0
                    return self
                time.sleep(0.2)
            log_text = _tail(self.log_path, 60)
            self._kill()
            if "address already in use" not in log_text.lower() or attempt == 2:
                raise ServerError(f"mlflow server did not come up on {self.uri} within "
                                  f"{self.timeout:.0f} s (exit code {self.proc.returncode}):"
                                  f"\n{log_text}")
        raise AssertionError("unreachable")

    def _kill(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; its uvicorn workers share the group: end them too
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break

    def stop(self) -> None:
        if self.tmp is None:
            return
        atexit.unregister(self.stop)
        self._kill()
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def __enter__(self) -> MLflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
