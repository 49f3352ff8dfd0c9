import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def sweep_file(tmp_path):
    def make(text: str) -> Path:
        p = tmp_path / "sweep.yaml"
        p.write_text(textwrap.dedent(text))
        return p

    return make


@pytest.fixture(scope="module")
def pg_mlflow(tmp_path_factory):
    """A private PostgreSQL cluster with `optuna` and `mlflow` databases and an MLflow server
    on the latter, for one test module: (cluster, MLflow URI). Skips where PostgreSQL cannot
    be started (tests/helpers/servers.py says why)."""
    servers = pytest.importorskip("helpers.servers")
    try:
        servers.ensure_postgres()
    except servers.PostgresUnavailable as e:
        pytest.skip(str(e))
    tmp = tmp_path_factory.mktemp("servers")
    with servers.PostgresCluster() as pg:
        for db in ("optuna", "mlflow"):
            pg.create_database(db)
        with servers.MLflowServer(pg.url("mlflow", driver=None), tmp / "artifacts") as ml:
            yield pg, ml.uri
