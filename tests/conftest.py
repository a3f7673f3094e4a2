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
from collections.abc import Callable, Iterator
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


Builder = Callable[[Engine, Path], object]
_SCENARIOS: dict[tuple[str, str], str] = {}  # (engine kind, scenario) → template file or database


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest, db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str, Builder], Engine]]:
    """``scenario(name, build)``: the test's database holds what ``build(engine, folder)``
    wrote. Each scenario is built once per engine and test session, then copied for every test
    that asks for it (a file copy, or ``CREATE DATABASE … TEMPLATE``): the tests stay
    independent and the expensive set-up (imports, a project walked to verification) runs once.
    """
    kind = request.node.callspec.params["db_url"]
    engines: list[Engine] = []

    def make(name: str, build: Builder) -> Engine:
        key = (kind, name)
        if key not in _SCENARIOS:
            folder = tmp_path_factory.mktemp(f"scenario-{name}")
            if kind == "spatialite":
                path = folder / f"{name}.sqlite"
                shutil.copy(request.getfixturevalue("spatialite_template"), path)
                template_url, template = f"sqlite:///{path}", str(path)
            else:
                cluster: PostgisCluster = request.getfixturevalue("postgis_cluster")
                template = f"scenario_{name.replace('-', '_')}"
                template_url = cluster.create_database(template, template="tanhui_template")
            built = make_engine(template_url)
            build(built, folder)
            built.dispose()  # a template must have no connection left (and no SQLite WAL)
            _SCENARIOS[key] = template
        if kind == "spatialite":
            shutil.copy(_SCENARIOS[key], db_url.split("///", 1)[1])
        else:
            cluster = request.getfixturevalue("postgis_cluster")
            name_ = db_url.rsplit("/", 1)[1]
            cluster.drop_database(name_)
            cluster.create_database(name_, template=_SCENARIOS[key])
        engine = make_engine(db_url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


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


def registry_digest(engine: Engine) -> str:
    """One SHA-256 over every row of every table of the registry (the schema's own tables, not
    the spatial extension's): equal before and after means nothing at all was written."""
    import hashlib

    from registry.schema import target_metadata

    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in sorted(target_metadata().tables):
            digest.update(table.encode())
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all():
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()
