"""New SQLite stores start as a copy of an empty template (store/template.py): the
copy must be a store MLflow opens as if freshly migrated, whose experiment 0 points beside
the new store (not the template's), and a bad template must only cost the migrations."""

from __future__ import annotations

import sqlite3

import pytest

from ganbench.store import template as store_template
from ganbench.store.mlflow import MLflowStore


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "data"))
    return tmp_path


def _uri(path) -> str:
    return f"sqlite:///{path}"


def test_the_first_store_leaves_a_template_later_stores_copy(data_root, monkeypatch):
    first = data_root / "a" / "mlflow.db"
    MLflowStore(_uri(first))
    tpl = store_template.template_path()
    assert tpl.is_file()
    with sqlite3.connect(tpl) as con:  # schema only: experiment 0 is the new store's own
        assert con.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)

    monkeypatch.chdir(data_root / "a")  # MLflow puts experiment 0 under ./mlruns
    second = data_root / "b" / "mlflow.db"
    seeded = []
    real_seed = store_template.seed
    monkeypatch.setattr(store_template, "seed", lambda db: seeded.append(real_seed(db)) or
                        seeded[-1])
    store = MLflowStore(_uri(second))
    assert seeded == [True]
    assert store.client.get_experiment("0").name == "Default"
    exp = store.experiment("sweep-x")
    run = store.start_run(exp, "r", {}).run_id
    store.client.log_param(run, "lr", "0.1")
    assert store.client.get_run(run).data.params == {"lr": "0.1"}


def test_an_existing_store_is_never_overwritten(data_root):
    db = data_root / "s" / "mlflow.db"
    store = MLflowStore(_uri(db))
    store.experiment("keep-me")
    assert store_template.seed(db) is False
    assert MLflowStore(_uri(db)).find_experiment("keep-me") is not None


def test_a_template_mlflow_refuses_is_dropped_and_the_store_made_afresh(data_root):
    tpl = store_template.template_path()
    tpl.parent.mkdir(parents=True)
    with sqlite3.connect(tpl) as con:  # a store of some other schema revision
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        con.execute("INSERT INTO alembic_version VALUES ('0000deadbeef')")
        for table in ("experiments", "runs", "metrics", "params", "tags"):
            con.execute(f"CREATE TABLE {table} (x INTEGER)")
    store = MLflowStore(_uri(data_root / "c" / "mlflow.db"))
    assert store.client.get_experiment("0").name == "Default"
    assert store.experiment("fine") is not None
    assert not tpl.exists() or sqlite3.connect(tpl).execute(
        "SELECT version_num FROM alembic_version").fetchone() != ("0000deadbeef",)


def test_an_unwritable_data_root_costs_only_the_template(data_root, monkeypatch):
    blocker = data_root / "not-a-folder"
    blocker.write_text("a file where the data root should be")
    monkeypatch.setenv("GANBENCH_DATA", str(blocker))
    store = MLflowStore(_uri(data_root / "d" / "mlflow.db"))
    assert store.experiment("still-works") is not None
