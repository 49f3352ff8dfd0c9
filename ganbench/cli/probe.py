"""Whether the server behind a URI is what the URI says, asked in one short request.

A TCP connect only says something listens: a web server that is not MLflow answered 404 and
the sweep ended in MLflow's traceback; one that accepts and never answers made MLflow retry
for minutes. One GET of the REST API's cheapest call (experiments/search, max 1) with the
connect timeout tells them apart, and names the URI and what it answered. Database URLs
(--storage, --tracking-uri) get the same: PostgreSQL answers an SSLRequest with one byte,
MySQL greets first; a server that accepts and never answers made psycopg wait a minute.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

API = "/api/2.0/mlflow/experiments/search?max_results=1"


def _request(uri: str) -> urllib.request.Request:
    parts = urlsplit(uri)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + API.split("?")[0],
                      API.split("?")[1], ""))
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    # The credentials MLflow's client would send (basic auth or a bearer token).
    user, pw = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get(
        "MLFLOW_TRACKING_PASSWORD", "")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if user:
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode())
    elif token:
        req.add_header("Authorization", f"Bearer {token}")
    return req


def _context() -> ssl.SSLContext | None:
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        return ssl._create_unverified_context()  # noqa: S323 - the user asked MLflow for it
    cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=cert) if cert else None


def mlflow_server(uri: str, shown: str, option: str, timeout: float) -> None:
    """ValueError (one line: the URI and what it answered) unless `uri` answers MLflow's REST
    API with JSON within `timeout` seconds."""
    where = f"{option} {shown}"
    try:
        with urllib.request.urlopen(_request(uri), timeout=timeout,
                                    context=_context()) as r:
            body = r.read(1 << 16)
            status = r.status
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise ValueError(f"{where}: the server answered {e.code} {e.reason} to MLflow's "
                             "API; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                             "(or MLFLOW_TRACKING_TOKEN)") from None
        raise ValueError(f"{where}: not an MLflow tracking server (it answered {e.code} "
                         f"{e.reason} to {API.split('?')[0]}); check the host, port and "
                         "path") from None
    except TimeoutError:
        raise ValueError(f"{where}: the server accepted the connection but did not answer "
                         f"within {timeout:g} s; is it an MLflow server (`mlflow server`)?"
                         ) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", None) or e
        if isinstance(why, TimeoutError):
            why = f"no answer within {timeout:g} s"
        text = (str(why).splitlines() or [type(e).__name__])[0][:120]
        raise ValueError(f"{where}: no MLflow answer ({text}); is it an MLflow server "
                         "(`mlflow server`)?") from None
    try:
        ok = status == 200 and isinstance(json.loads(body), dict)
    except ValueError:
        ok = False
    if not ok:
        kind = "HTML" if body.lstrip()[:1] == b"<" else "not MLflow's JSON"
        raise ValueError(f"{where}: not an MLflow tracking server (it answered {status} with "
                         f"{kind} to {API.split('?')[0]}); check the host, port and path")


PG_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


def database_server(sock, scheme: str, where: str, timeout: float) -> None:
    """ValueError (one line) unless the server on `sock` answers as a `scheme` server in
    `timeout` seconds. No credentials are sent: PostgreSQL answers an SSLRequest with 'S' or
    'N' before any authentication; MySQL sends its handshake packet first."""
    sock.settimeout(timeout)
    try:
        if scheme == "postgresql":
            sock.sendall(PG_SSL_REQUEST)
            answer = sock.recv(1)
            ok = answer in (b"S", b"N")
        else:
            answer = sock.recv(5)  # 3-byte length, sequence 0, protocol version 10
            ok = len(answer) == 5 and answer[3] == 0 and answer[4] in (9, 10, 0xFF)
    except TimeoutError:
        raise ValueError(f"{where}: the server accepted the connection but did not answer "
                         f"within {timeout:g} s; is it a {scheme} server?") from None
    except OSError as e:
        raise ValueError(f"{where}: the connection failed ({e.strerror or e}); is it a "
                         f"{scheme} server?") from None
    if not ok:
        shown = answer[:16].decode("ascii", "replace").strip() or "nothing, and closed"
        raise ValueError(f"{where}: not a {scheme} server (it answered {shown!r}); check "
                         "the host and port")
