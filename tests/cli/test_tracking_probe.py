"""Issue 27, class 6: an http(s) --tracking-uri that is not MLflow (it answers 404, HTML, or
accepts and never answers) is one line naming the URI and what it answered, within seconds,
on every command that takes one. Local servers on 127.0.0.1 only."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
from helpers.cli import assert_user_error, invoke

from ganbench.cli import checks


def _handler(status: int, body: bytes, ctype: str = "text/html"):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    return H


@pytest.fixture
def server():
    started = []

    def start(status: int, body: bytes, ctype: str = "text/html") -> str:
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(status, body, ctype))
        threading.Thread(target=s.serve_forever, daemon=True).start()
        started.append(s)
        return f"http://127.0.0.1:{s.server_port}"

    yield start
    for s in started:
        s.shutdown()
        s.server_close()


@pytest.fixture
def mute():
    """Accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.mark.parametrize("status,body,needle", [
    (404, b"<html>Not Found</html>", "answered 404"),
    (200, b"<html>a web page</html>", "answered 200 with HTML"),
    (200, b"[1, 2]", "not MLflow's JSON"),
    (500, b"oops", "answered 500"),
    (401, b"", "MLFLOW_TRACKING_USERNAME"),
])
def test_a_server_that_is_not_mlflow_is_named(server, status, body, needle):
    uri = server(status, body)
    with pytest.raises(ValueError) as e:
        checks.tracking_uri(uri)
    assert uri in str(e.value) and needle in str(e.value) and "\n" not in str(e.value)


def test_an_mlflow_answer_passes(server):
    checks.tracking_uri(server(200, b'{"experiments": []}', "application/json"))


def test_a_server_that_never_answers_is_named_within_the_timeout(mute, monkeypatch):
    monkeypatch.setattr(checks, "CONNECT_TIMEOUT", 0.5)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="accepted the connection but did not answer"):
        checks.tracking_uri(mute)
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("cmd", [["report", "fz"], ["worker", "fz"], ["status", "fz"]])
def test_every_command_probes_it(server, tmp_path, cmd):
    uri = server(404, b"<html>Not Found</html>")
    r = invoke(*cmd, "--tracking-uri", uri, "--results", tmp_path)
    assert_user_error(r, uri, "answered 404")


def test_sweep_and_run_probe_it(server, tmp_path):
    uri = server(404, b"<html>Not Found</html>")
    sw = tmp_path / "s.yaml"
    sw.write_text("name: fz\nbase: {dataset: ring8, steps: 4, batch_size: 8}\n"
                  "tricks:\n  ttur: [off, on]\n")
    run = tmp_path / "r.yaml"
    run.write_text("dataset: ring8\nsteps: 4\n")
    assert_user_error(invoke("sweep", sw, "--tracking-uri", uri, "--results", tmp_path / "r"),
                      uri, "answered 404")
    assert not (tmp_path / "r" / "fz").exists()  # refused before anything was opened
    assert_user_error(invoke("run", run, "--tracking-uri", uri, "--out", tmp_path / "o"), uri,
                      "answered 404")


def _tcp_server(reply):
    """A one-connection-at-a-time TCP server answering what `reply(first bytes)` returns."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    out = reply(conn.recv(8))
                    if out:
                        conn.sendall(out)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return srv


@pytest.mark.parametrize("reply,ok,needle", [
    (lambda data: b"N", True, ""),  # PostgreSQL without SSL answers 'N' to an SSLRequest
    (lambda data: b"HTTP/1.0 400 Bad Request\r\n\r\n", False, "not a postgresql server"),
])
def test_a_storage_url_is_asked_whether_it_is_postgresql(reply, ok, needle):
    srv = _tcp_server(reply)
    url = f"postgresql://u@127.0.0.1:{srv.getsockname()[1]}/db"
    try:
        if ok:
            checks.storage(url)
        else:
            with pytest.raises(ValueError, match=needle):
                checks.storage(url)
    finally:
        srv.close()


def test_a_database_that_never_answers_is_named(mute, monkeypatch):
    monkeypatch.setattr(checks, "CONNECT_TIMEOUT", 0.5)
    url = mute.replace("http://", "postgresql://u@") + "/db"
    for check in (checks.storage, checks.tracking_uri):
        with pytest.raises(ValueError, match="accepted the connection but did not answer"):
            check(url)
