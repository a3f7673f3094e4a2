"""Real databases for the tests: a SpatiaLite file and a throw-away PostGIS cluster.

The PostGIS cluster is started once per test session with initdb/pg_ctl from
/usr/lib/postgresql/15/bin (as the unprivileged ``postgres`` user when run as root) on a free
loopback port, and removed afterwards. Each test gets a fresh database copied from a migrated
template (``CREATE DATABASE … TEMPLATE``) or a copy of a migrated SpatiaLite file.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from registry.db import make_engine, migrate
from tests.pg_cluster import PG_BIN, PostgisCluster

ENGINES = ("spatialite", "postgis")


@pytest.fixture(scope="session")
def postgis_cluster() -> Iterator[PostgisCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: run the tests with `make test`")
    cluster = PostgisCluster().start()
    try:
        cluster.create_database("tanhui_template")
        engine = make_engine(cluster.url("tanhui_template"))
        migrate(engine)
        engine.dispose()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spatialite") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection to close checkpoints and removes the WAL file
    assert not path.with_name(path.name + "-wal").exists()
    return path


_counter = itertools.count()


@pytest.fixture(params=ENGINES)
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, spatialite_template: Path
) -> Iterator[str]:
    """A fresh, migrated, empty database of each engine; yields its SQLAlchemy URL."""
    if request.param == "spatialite":
        path = tmp_path / "registry.sqlite"
        shutil.copy(spatialite_template, path)
        yield f"sqlite:///{path}"
        return
    cluster: PostgisCluster = request.getfixturevalue("postgis_cluster")
    name = f"test_{os.getpid()}_{next(_counter)}"
    url = cluster.create_database(name, template="tanhui_template")
    yield url
    cluster.drop_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def db_snapshot(engine: Engine) -> dict[str, object]:
    """Everything an import may change, to compare before and after a refused operation."""
    out: dict[str, object] = {}
    with engine.connect() as conn:
        for table in ("inventory_batch", "owner", "stand", "audit_event"):
            out[f"{table}.count"] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        out["stand.rows"] = conn.execute(
            text(
                "SELECT stand_key, version, is_current, content_hash, superseded_by_batch_id "
                "FROM stand ORDER BY stand_key, version"
            )
        ).all()
        out["audit.head"] = conn.execute(
            text("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1")
        ).scalar()
    return out
