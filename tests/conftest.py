"""Real databases for the tests: a SpatiaLite file and a throw-away PostGIS cluster.

The PostGIS cluster is started once per test session with initdb/pg_ctl from
/usr/lib/postgresql/15/bin (as the unprivileged ``postgres`` user when run as root) on a free
loopback port, and removed afterwards. Each test gets a fresh database copied from a migrated
template (``CREATE DATABASE … TEMPLATE``) or a copy of a migrated SpatiaLite file.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from registry.db import make_engine, migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ENGINES = ("spatialite", "postgis")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgisCluster:
    port: int
    admin_url: str  # libpq URL of the maintenance database

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://tanhui@127.0.0.1:{self.port}/{dbname}"


@pytest.fixture(scope="session")
def postgis_cluster() -> Iterator[PostgisCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed: run the tests with `make test`")
    root = Path(tempfile.mkdtemp(prefix="tanhui-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        for p in (root, sockets):
            os.chown(p, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid}
    port = _free_port()
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "tanhui", "--auth=trust",
         "-E", "UTF8", "--no-locale"],
        check=True, capture_output=True, **run_as,  # type: ignore[arg-type]
    )  # fmt: skip
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    subprocess.run(
        [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True, capture_output=True, **run_as,  # type: ignore[arg-type]
    )  # fmt: skip
    admin = f"postgresql://tanhui@127.0.0.1:{port}/postgres"
    cluster = PostgisCluster(port, admin)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tanhui_template")
        engine = make_engine(cluster.url("tanhui_template"))
        migrate(engine)
        engine.dispose()
        yield cluster
    finally:
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, **run_as,  # type: ignore[arg-type]
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


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
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE tanhui_template")
    yield cluster.url(name)
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
