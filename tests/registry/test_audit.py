"""The audit log: one event per state change, hash-chained, append-only, verifiable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.audit import GENESIS_HASH, append_event, event_hash, verify_chain
from registry.db import session_scope
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg


def _append(engine: Engine, n: int) -> None:
    for i in range(n):
        with session_scope(engine) as session:
            append_event(
                session, actor="clerk", action="test.event", entity_type="thing",
                entity_id=str(i), payload={"i": i, "名称": "杉木"},
            )  # fmt: skip


def test_chain_links_each_event_to_the_previous(engine: Engine) -> None:
    _append(engine, 3)
    with session_scope(engine) as session:
        rows = session.execute(
            text("SELECT id, occurred_at, actor, action, entity_type, entity_id, payload, "
                 "prev_hash, hash FROM audit_event ORDER BY id")
        ).all()  # fmt: skip
        report = verify_chain(session)
    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert rows[0].payload == '{"i":0,"名称":"杉木"}'  # canonical JSON, UTF-8 kept
    assert rows[2].hash == event_hash(*rows[2][:8])
    assert report.ok and report.n_events == 3 and report.head_hash == rows[2].hash


def test_database_refuses_to_edit_or_delete_events(engine: Engine) -> None:
    _append(engine, 1)
    for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(engine) as session:
            session.execute(text(statement))
    with session_scope(engine) as session:
        assert verify_chain(session).ok


def test_database_refuses_an_event_that_does_not_extend_the_head(engine: Engine) -> None:
    """The chain's links are the database's own rule, not only the service's (migration 0005)."""
    _append(engine, 2)
    with session_scope(engine) as session:
        head = session.execute(text("SELECT seq, hash FROM audit_head")).one()
    columns = "id, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash"
    forged = [
        (head.seq + 1, GENESIS_HASH, "chain head"),  # right place, wrong link
        (head.seq + 2, head.hash, "chain head"),  # right link, skipping a sequence number
        # a second event 2: SQLite refuses the existing key first (migration 0011)
        (head.seq, head.hash, r"chain head|never replaced"),
    ]
    for seq, prev, refusal in forged:
        with pytest.raises(DBAPIError, match=refusal), engine.begin() as conn:
            conn.execute(
                text(f"INSERT INTO audit_event ({columns}) VALUES (:s, 't', 'x', 'forged', 'x', 'x', '{{}}', :p, :h)"),
                {"s": seq, "p": prev, "h": f"{seq:064d}"},
            )  # fmt: skip
    for statement in ("UPDATE audit_head SET seq = seq - 1", "DELETE FROM audit_head"):
        with pytest.raises(DBAPIError, match="链头只能前进"), engine.begin() as conn:
            conn.execute(text(statement))
    with session_scope(engine) as session:
        report = verify_chain(session)
    assert report.ok and report.n_events == 2 and report.head_hash == head.hash


def _tamper(db_url: str, statement: str) -> None:
    """Edit the log behind the registry's back, as an attacker with file/superuser access."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("///", 1)[1])
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute(statement)
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
            conn.execute(statement)


@pytest.mark.parametrize(
    ("statement", "bad_seq", "words"),
    [
        ("UPDATE audit_event SET payload = '{\"i\":99}' WHERE id = 2", 2, "altered"),
        ("DELETE FROM audit_event WHERE id = 2", 3, "gap"),
        ("UPDATE audit_event SET actor = 'someone else' WHERE id = 3", 3, "altered"),
        # the newest event cut off: every remaining link is fine, but the head knows event 4
        ("DELETE FROM audit_event WHERE id = 4", 4, "newest events were removed"),
    ],
)
def test_verify_detects_a_tampered_event(
    engine: Engine, db_url: str, statement: str, bad_seq: int, words: str
) -> None:
    _append(engine, 4)
    engine.dispose()
    _tamper(db_url, statement)
    with session_scope(engine) as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert words in report.problem_en and report.problem_zh


def test_an_import_writes_one_event_in_its_transaction(engine: Engine, tmp_path: Path) -> None:
    frame = sample_frame(40, 5)
    import_inventory(engine, write_gpkg(frame, tmp_path / "a.gpkg"), ImportOptions())
    import_inventory(engine, write_gpkg(frame, tmp_path / "a.gpkg"), ImportOptions())  # no-op
    with session_scope(engine) as session:
        events = session.execute(text("SELECT action, entity_id, payload FROM audit_event")).all()
        assert verify_chain(session).ok
    assert len(events) == 1
    assert events[0].action == "inventory.imported" and '"new":40' in events[0].payload
