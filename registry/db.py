"""Database engines for SpatiaLite (embedded default) and PostGIS (production).

This module is the only place that opens SQLite: Debian's ``/usr/bin/python3`` sqlite3 module
with extension loading (the pyenv builds lack ``enable_load_extension``), loading
``mod_spatialite``. Every SQLite write transaction starts with ``BEGIN IMMEDIATE`` so that
writers serialise at the start instead of failing half-way; views read in ``read_scope``.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry.errors import DatabaseSetupError, RegistryError

__all__ = [
    "DriverSQL",
    "database_refusal",
    "ensure_schema",
    "grant_application_role",
    "is_postgres",
    "make_engine",
    "migrate",
    "read_scope",
    "schema_head",
    "session_scope",
]

SPATIALITE_MODULE = "mod_spatialite"
MIGRATIONS = Path(__file__).parent / "migrations"
# Python packages that ship their own GEOS / PROJ / GDAL builds in their wheels.
BUNDLED_GEO_PACKAGES = ("shapely", "pyproj", "pyogrio", "rasterio")
READ_ONLY_OPTION = "tanhui_read_only"  # execution option: read_scope's deferred BEGIN


@cache
def preload_bundled_geo_libraries() -> None:
    """Import every compiled module of shapely, pyproj and pyogrio before SpatiaLite loads.

    SQLite loads extensions with ``dlopen(RTLD_NOW | RTLD_GLOBAL)``: mod_spatialite puts the
    *system* GEOS and PROJ into the process's global symbol scope. A compiled module of
    shapely/pyproj/pyogrio imported *after* that binds its GEOS/PROJ calls to the system copies
    instead of its wheel's own (same symbol names, different versions): we saw shapely crash
    with "WKB output dimension must be 2 or 3" and a double free. Modules loaded *before* are
    bound at load time (Python uses RTLD_NOW), so we load them all first.
    """
    for name in BUNDLED_GEO_PACKAGES:
        package = importlib.import_module(name)
        root = Path(package.__file__ or "").parent
        for binary in sorted(root.rglob("*.so")):
            parts = binary.relative_to(root.parent).with_suffix("").parts
            module = ".".join((*parts[:-1], parts[-1].split(".")[0]))
            with suppress(ImportError):
                importlib.import_module(module)


def is_postgres(bind: Engine | Connection | Session) -> bool:
    return (
        bind.get_bind().dialect.name == "postgresql"
        if isinstance(bind, Session)
        else (bind.dialect.name == "postgresql")
    )


def _sha256_hex(value: str | None) -> str | None:
    """SQL ``sha256_hex(text)``: the SHA-256 of the text's UTF-8 bytes, as 64 hex digits."""
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    if not hasattr(dbapi_conn, "enable_load_extension"):
        raise DatabaseSetupError(
            "当前 Python 的 sqlite3 不支持加载扩展，无法使用 SpatiaLite。请用 make demo 建立的 .venv"
            "（基于 Debian 的 /usr/bin/python3）。",
            "This Python's sqlite3 cannot load extensions, so SpatiaLite is unavailable. Use "
            "the .venv that `make demo` builds from Debian's /usr/bin/python3.",
        )
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_sqlite_begin)
    try:
        dbapi_conn.enable_load_extension(True)
        dbapi_conn.load_extension(SPATIALITE_MODULE)
        dbapi_conn.enable_load_extension(False)
    except sqlite3.OperationalError as exc:
        raise DatabaseSetupError(
            f"无法加载 SpatiaLite 扩展 {SPATIALITE_MODULE}：{exc}。请安装 libsqlite3-mod-spatialite"
            "（make demo 会安装）。",
            f"Cannot load the SpatiaLite extension {SPATIALITE_MODULE}: {exc}. Install "
            "libsqlite3-mod-spatialite (make demo does).",
        ) from exc
    # the audit chain hashes in SQL on both engines (PostgreSQL: migration 0005)
    dbapi_conn.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA foreign_keys = ON")
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        cur.execute("BEGIN IMMEDIATE")
        if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
            cur.execute("SELECT InitSpatialMetaData(0)")  # all EPSG codes (4490 among them)
        cur.execute("COMMIT")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SpatiaLite file or a PostGIS database URL."""
    if url.startswith("sqlite"):
        preload_bundled_geo_libraries()
        if url.count("/") >= 3 and not url.endswith(":memory:"):
            Path(url.split("///", 1)[1]).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, module=sqlite3, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "begin")
        def _on_sqlite_begin(conn: Connection) -> None:
            # a write transaction takes the write lock at once (no deadlocking upgrade later);
            # a read-only one (read_scope) reads a snapshot and blocks no writer
            read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, **kwargs)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except Exception:
            return None
        return None if row is None else str(row[0])


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """One read-only transaction for views: on SQLite a deferred ``BEGIN`` (a snapshot, no write
    lock), on PostgreSQL ``READ ONLY``; rolled back at the end, whatever happened."""
    bind = engine.execution_options(**{READ_ONLY_OPTION: True})
    with Session(bind, expire_on_commit=False) as session:
        session.begin()
        try:
            if is_postgres(session):
                session.execute(text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            session.expunge_all()  # what was read stays readable after the rollback
            session.rollback()


def schema_head() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def ensure_schema(engine: Engine) -> None:
    """Create the schema of a brand-new, empty database; refuse one whose schema is not the
    code's (an older one is upgraded by ``migrate``, on purpose, not on every command)."""
    current, head = current_revision(engine), schema_head()
    if current == head:
        return
    if current is None and "stand" not in inspect(engine).get_table_names():
        migrate(engine)
        return
    raise DatabaseSetupError(
        f"数据库结构版本为 {current or '无'}，本程序需要 {head}：请先升级数据库结构（迁移前请备份）。",
        f"the database schema is at revision {current or 'none'}, this program needs {head}: "
        "upgrade the schema first (back the database up before migrating).",
    )


_NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=1024)
def _pyformat(sql: str) -> str:
    """``:name`` parameters → psycopg's ``%(name)s`` (a literal ``%`` doubled)."""
    return _NAMED_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


class DriverSQL:
    """Plain SQL on a session's own DBAPI connection, inside the session's transaction.

    For the hot paths of the ledger and the audit log. Going through SQLAlchemy's ``text()``
    costs some 50 µs a statement in Python (parameter parsing, compile cache, result wrapping) —
    more than SQLite needs to run it. Statements are written once with ``:name`` parameters for
    both engines; values reach the driver unchanged, exactly as ``text()`` passes them, so what
    is stored is the same either way. Errors are the driver's own (``sqlite3`` / ``psycopg``).
    """

    __slots__ = ("_cursor", "postgres")

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # begins the transaction (BEGIN IMMEDIATE on SQLite)
        self.postgres = connection.dialect.name == "postgresql"
        driver = connection.connection.driver_connection
        assert driver is not None
        self._cursor = driver.cursor()

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for a statement that returns none)."""
        cursor = self._cursor
        cursor.execute(_pyformat(sql) if self.postgres else sql, params or {})
        return list(cursor.fetchall()) if cursor.description is not None else []

    def first(self, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def many(self, sql: str, params: Sequence[dict[str, Any]]) -> None:
        """One statement run for each parameter set (the driver's executemany)."""
        if params:
            self._cursor.executemany(_pyformat(sql) if self.postgres else sql, list(params))

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Bulk insert: PostgreSQL's ``COPY … FROM STDIN`` (row triggers fire as for INSERT),
        SQLite's executemany of one INSERT."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.postgres:
            with self._cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        self._cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


# what the application may update on the ledger's and the audit log's tables (column grants);
# these tables get no UPDATE beyond this, and no DELETE or TRUNCATE at all
_GUARDED_UPDATES = {
    "credit_block": ("closed_op_id",),
    "ledger_operation": ("result_json",),
    "pledge": ("status", "closed_op_id"),
    "serial_counter": ("next_seq", "issued"),
    "audit_head": ("seq", "hash"),
    "audit_event": (),
    "audit_checkpoint": (),
    "organisation": (),
    "organisation_grant": (),  # append-only (migration 0012)
    "ledger_account": (
        "name",
    ),  # a row lock (FOR NO KEY UPDATE) needs it; its guard refuses updates
    "issuance": (),
    "retirement": (),
    "request_key": ("result_json",),  # a key's first request is kept (migration 0015)
    "price_scenario": (),  # append-only (migration 0016)
    "sharing_rule": (),  # append-only (migration 0017)
    "eco_label": ("status", "revoked_at", "revoked_by", "revoke_reason"),  # revoked once (0018)
    "label_layer": (),
    "label_layer_polygon": (),
    "label_evaluation": (),
    "label_attachment": (),
    "document": (),  # append-only (migration 0019)
    "buffer_debt": (),  # append-only (migration 0020)
    "rs_scene": (),  # append-only (migration 0021)
    "rs_run": (),
    "rs_flag": ("status", "reviewed_by", "reviewed_at", "review_reason"),  # reviewed once
    "rs_reversal": (),
}
# the working rows the application may delete: a draft roster's lines when it is prepared
# again (migration 0017's guard refuses it once approved), a user's link to an owner it moves
_DELETABLE = ("roster_line", "owner_user_link")


def grant_application_role(engine: Engine, role: str) -> None:
    """PostgreSQL: give the application's role (which must not own the tables) what it needs —
    SELECT and INSERT everywhere, UPDATE on the registry's working tables, and on the ledger's
    and audit tables only the columns their transitions write; DELETE only on a draft roster's
    lines and an owner's user link (``_DELETABLE``); never TRUNCATE or ownership, so it cannot drop or disable the guards. Run as the owner after each upgrade."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise DatabaseSetupError(
            f"角色名 {role!r} 无效（小写字母、数字、下划线）。",
            f"role name {role!r} is not valid (lower-case letters, digits, underscores).",
        )
    if engine.dialect.name != "postgresql":
        raise DatabaseSetupError(
            "只有 PostgreSQL 需要为应用单独授权；SpatiaLite 文件的保护靠签署的检查点。",
            "only PostgreSQL has roles to grant; a SpatiaLite file is protected by signed "
            "checkpoints.",
        )
    with engine.begin() as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ]
        owners = {
            str(r[0])
            for r in conn.execute(
                text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")
            )
        }
        if role in owners:
            raise DatabaseSetupError(
                f"角色 {role} 拥有数据表：应用须以不拥有表的角色连接。",
                f"role {role} owns tables: the application must connect as a role that does not.",
            )
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
        for table in tables:
            conn.execute(text(f'GRANT SELECT, INSERT ON "{table}" TO {role}'))
            columns = _GUARDED_UPDATES.get(table)
            if table in _DELETABLE:
                conn.execute(text(f'GRANT DELETE ON "{table}" TO {role}'))
            if columns is None:
                conn.execute(text(f'GRANT UPDATE ON "{table}" TO {role}'))
            elif columns:
                conn.execute(text(f'GRANT UPDATE ({", ".join(columns)}) ON "{table}" TO {role}'))


def database_refusal(exc: BaseException) -> RegistryError | None:
    """A change the database itself refused (a constraint, a guard trigger: a conflict) or a
    value it cannot hold (a data exception, e.g. a NUL character in PostgreSQL text: invalid)
    as a registry error the shells can show; None for anything else. The services check first,
    so this is the last line: a race the service could not see, or a guard doing its job."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from registry.errors import Conflict, Invalid

    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if isinstance(orig, sqlite3.DataError | psycopg.errors.DataError):  # a value it cannot hold
        return Invalid(
            f"数据库不能保存这个值：{first}", f"the database cannot hold a value: {first}"
        )
    if isinstance(orig, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
        return Conflict(  # PostgreSQL chose this transaction to give way; nothing was written
            f"与另一个同时进行的操作冲突，未作任何更改，请重试：{first}",
            f"a concurrent operation conflicted; nothing was changed — retry: {first}",
        )
    refused = (sqlite3.IntegrityError, psycopg.errors.IntegrityError, psycopg.errors.RaiseException)
    if not isinstance(orig, refused):
        return None
    return Conflict(f"数据库拒绝了这次更改：{first}", f"the database refused the change: {first}")
