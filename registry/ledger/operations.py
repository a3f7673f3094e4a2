"""A ledger operation's row: it claims the idempotency key, or finds the first request's result."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.audit import append_event, canonical_json
from registry.db import DriverSQL
from registry.errors import IdempotencyKeyReused
from registry.ledger.validation import check_key
from registry.ledger.vocabulary import OperationKind
from registry.results import Result

__all__ = ["FAULT_PAUSE_ENV", "Operation", "row_lock"]

FAULT_PAUSE_ENV = "TANHUI_FAULT_PAUSE_LEDGER"  # seconds; crash tests only


def row_lock(db: DriverSQL) -> str:
    """Row lock clause: PostgreSQL locks rows; SQLite's BEGIN IMMEDIATE already serialises."""
    return " FOR UPDATE" if db.postgres else ""


class Operation:
    """Claims the idempotency key in one statement in the common case (``INSERT … ON CONFLICT DO
    NOTHING RETURNING id``). When a concurrent request holds the same key, PostgreSQL makes the
    insert wait for it: if it commits, this request gets its result (``previous``); if it rolls
    back, this one goes ahead.
    """

    def __init__(
        self,
        session: Session,
        kind: OperationKind,
        key: str,
        request: dict[str, Any],
        actor: str,
    ) -> None:
        self.session, self.kind, self.key, self.actor = session, kind, check_key(key), actor
        self.db = DriverSQL(session)
        self.request = canonical_json({"kind": kind.value, **request})
        self.id = 0
        self.previous: dict[str, Any] | None = None
        claimed = self.db.first(
            "INSERT INTO ledger_operation (kind, idempotency_key, request_json, result_json, actor, created_at) "
            "VALUES (:kind, :key, :req, '{}', :actor, :t) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            {"kind": kind.value, "key": key, "req": self.request, "actor": actor, "t": datetime.now(UTC)},
        )  # fmt: skip
        if claimed is not None:
            self.id = int(claimed[0])
            return
        row = self.db.first(
            "SELECT request_json, result_json FROM ledger_operation WHERE idempotency_key = :k",
            {"k": key},
        )
        assert row is not None  # the conflicting row was committed before the insert gave way
        if row[0] != self.request:
            raise IdempotencyKeyReused(
                f"幂等键 {key!r} 已用于另一个不同的请求。",
                f"idempotency key {key!r} was already used for a different request.",
            )
        self.previous = json.loads(row[1])

    def finish(self, result: Result) -> None:
        """Record the result with the operation and append its audit event."""
        stored = result.to_dict()
        self.db.rows(
            "UPDATE ledger_operation SET result_json = :r WHERE id = :i",
            {"r": canonical_json(stored), "i": self.id},
        )
        append_event(self.session, actor=self.actor, action=f"ledger.{self.kind.value}", entity_type="ledger_operation",
                     entity_id=str(self.id), payload={"key": self.key, "request": json.loads(self.request), "result": stored})  # fmt: skip
        pause = os.environ.get(FAULT_PAUSE_ENV)
        if pause:
            self.session.flush()
            print("FAULT-INJECTION: ledger paused before commit", file=sys.stderr, flush=True)
            time.sleep(float(pause))
