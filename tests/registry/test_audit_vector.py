"""A known-answer vector for the audit chain's hash, written out by hand.

The chain's format is a promise to anyone who verifies the log with their own tools: event n's
hash is SHA-256 of ``prev_hash``, a newline, and the event's canonical JSON (keys sorted, no
spaces, UTF-8 kept, the payload as its own canonical JSON text). The body below is typed out
character by character, not produced by the code under test.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, text

from registry.audit import GENESIS_HASH, event_hash

BODY = (
    '{"action":"ledger.retire","actor":"局长","entity_id":"12","entity_type":"ledger_operation",'
    '"occurred_at":"2026-06-30T08:00:00.000000+00:00","payload":"{\\"quantity\\":50}","seq":7}'
)
# sha256("0" × 64 + "\n" + BODY), computed once with a plain `hashlib` one-liner and frozen here
VECTOR = "b248900b57ea4772203790d4ee597383998e62e6bd7fdb5a4d1b6a15b4b6a3db"


def test_the_body_hashes_to_the_frozen_vector() -> None:
    assert hashlib.sha256(f"{'0' * 64}\n{BODY}".encode()).hexdigest() == VECTOR


def test_event_hash_gives_the_known_answer() -> None:
    assert (
        event_hash(7, "2026-06-30T08:00:00.000000+00:00", "局长", "ledger.retire",
                   "ledger_operation", "12", '{"quantity":50}', GENESIS_HASH)
        == VECTOR
    )  # fmt: skip


def test_the_databases_sha256_gives_the_known_answer(engine: Engine) -> None:
    """The SQL append hashes with ``sha256_hex`` (PostgreSQL: migration 0005; SQLite: a
    function registered on connect); both must agree with the vector byte for byte."""
    with engine.connect() as conn:
        got = conn.execute(text("SELECT sha256_hex(:t)"), {"t": f"{GENESIS_HASH}\n{BODY}"}).scalar()
    assert got == VECTOR
