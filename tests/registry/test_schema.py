"""The migrations and the tables' description agree: Alembic's autogenerate, run against a
freshly migrated database of each engine, finds nothing to change — except the differences the
migrations make on purpose, each named here with its reason (registry/ledger/tables.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from registry.db import is_postgres
from registry.schema import schema_differences

# differences made on purpose, per engine
EXPECTED = {
    "postgresql": {
        # SQLite's overlap trigger reads it; PostgreSQL's exclusion constraint needs no index
        ("add_index", "credit_block", "ix_block_live_range"),
    },
    "sqlite": {
        # SQLite cannot add NOT NULL or a foreign key to an existing column: triggers refuse
        # what they refuse (migrations 0008, 0011)
        ("modify_nullable", "ledger_account", "organisation_id"),
        ("add_fk", "ledger_account", "organisation_id"),
        ("add_fk", "credit_block", "pledge_id"),
        # a raw `INTEGER PRIMARY KEY` (the rowid) reflects as nullable; it cannot hold NULL
        ("modify_nullable", "audit_head", "id"),
    },
}


def _short(diff: Any) -> tuple[str, str, str]:
    """(what, table, column or index) of one autogenerate difference."""
    if isinstance(diff, list):  # column modifications come as a list of one tuple
        diff = diff[0]
        return diff[0], diff[2], diff[3]
    what, obj = diff[0], diff[1]
    if what in ("add_fk", "remove_fk"):
        return what, obj.table.name, ",".join(c.name for c in obj.columns)
    if what in ("add_index", "remove_index"):
        return what, obj.table.name, obj.name
    if what in ("add_table", "remove_table"):
        return what, obj.name, ""
    if what in ("add_column", "remove_column"):
        return what, diff[2], diff[3].name
    return what, getattr(getattr(obj, "table", None), "name", str(obj)), str(obj)


def test_autogenerate_finds_no_difference(engine: Engine) -> None:
    found = {_short(d) for d in schema_differences(engine)}
    assert found == EXPECTED["postgresql" if is_postgres(engine) else "sqlite"]
