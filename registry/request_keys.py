"""Idempotency keys of requests that are not ledger operations (a purchase request, its
confirmation, rejection or cancellation), kept in ``request_key`` (migration 0015) as
:class:`registry.ledger.operations.Operation` keeps the ledger's: the first request with a key
claims it and stores its result in the same transaction; the same key with the same request
returns that result (and changes nothing); the same key with another request is refused.

On PostgreSQL a second request with a key another transaction has claimed but not committed
waits for it (the unique index): if it commits, the waiting one gets its result; if it rolls
back, the waiting one goes ahead. SQLite serialises writers (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.audit import canonical_json
from registry.db import DriverSQL
from registry.errors import IdempotencyKeyReused
from registry.ledger.validation import check_key

__all__ = ["KeyedRequest"]


class KeyedRequest:
    """A request's claim on its idempotency key. ``previous`` is the first request's result
    (a retry: do nothing, return it); otherwise do the work and :meth:`finish` with its result."""

    def __init__(
        self, session: Session, key: str, kind: str, request: dict[str, Any], actor: str
    ) -> None:
        self.db = DriverSQL(session)
        self.key = check_key(key)
        self.request = canonical_json({"kind": kind, **request})
        self.previous: dict[str, Any] | None = None
        claimed = self.db.first(
            "INSERT INTO request_key (idempotency_key, kind, request_json, result_json, actor, created_at) "
            "VALUES (:k, :kind, :req, '{}', :a, :t) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            {"k": key, "kind": kind, "req": self.request, "a": actor, "t": datetime.now(UTC)},
        )  # fmt: skip
        if claimed is not None:
            self.id = int(claimed[0])
            return
        row = self.db.first(
            "SELECT id, request_json, result_json FROM request_key WHERE idempotency_key = :k",
            {"k": key},
        )
        assert row is not None  # the conflicting row was committed before the insert gave way
        self.id = int(row[0])
        if row[1] != self.request:
            raise IdempotencyKeyReused(
                f"幂等键 {key!r} 已用于另一个不同的请求。",
                f"idempotency key {key!r} was already used for a different request.",
            )
        self.previous = json.loads(row[2])

    def finish(self, result: dict[str, Any]) -> None:
        """Store the result a retry with this key gets back."""
        self.db.rows(
            "UPDATE request_key SET result_json = :r WHERE id = :i",
            {"r": canonical_json(result), "i": self.id},
        )
