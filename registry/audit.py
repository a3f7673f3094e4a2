"""The audit log: append-only, hash-chained events written in the caller's transaction.

Event ``n`` stores ``prev_hash`` = hash of event ``n-1`` (64 zeros for the first) and
``hash`` = SHA-256 of ``prev_hash`` and the canonical JSON of its own fields. Changing,
inserting or removing any event breaks every later hash; :func:`verify_chain` finds the first
break. The database refuses UPDATE and DELETE on the table (triggers, migration 0001), keeps
the chain head itself and refuses an event that does not extend it (migration 0005); a head
ahead of the last event shows that the newest events were cut off.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.db import DriverSQL
from registry.models import AuditEvent

__all__ = [
    "GENESIS_HASH",
    "AppendedEvent",
    "ChainReport",
    "append_event",
    "canonical_json",
    "event_hash",
    "event_hash_at",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, UTF-8 text kept as is: one text per value."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _body_before_seq(
    occurred_at: str, actor: str, action: str, entity_type: str, entity_id: str, payload: str
) -> str:
    """The canonical body of an event up to its sequence number, which sorts last."""
    fields = {"occurred_at": occurred_at, "actor": actor, "action": action,
              "entity_type": entity_type, "entity_id": entity_id, "payload": payload}  # fmt: skip
    return canonical_json(fields)[:-1] + ',"seq":'


def event_hash(
    seq: int,
    occurred_at: str,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: str,
    prev_hash: str,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "occurred_at": occurred_at,
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "payload": payload,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    """Where an appended event sits in the chain."""

    seq: int
    hash: str


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    payload: Mapping[str, Any],
) -> AppendedEvent:
    """Append one event in the session's transaction (commits with the change it records).

    The chain head (``audit_head``, migration 0005) is read with a row lock on PostgreSQL: it
    serialises appends and gives a waiting writer the head its predecessor committed. On SQLite
    every write transaction is ``BEGIN IMMEDIATE`` already. The database refuses an event that
    does not extend the head. Lock order: the session's pending changes are flushed first and
    every row lock an operation needs is taken *before* its first audit event, so that the head
    is always the last lock taken and two transactions can never wait on each other.
    """
    session.flush()
    db = DriverSQL(session)
    occurred_at = datetime.now(UTC).isoformat(timespec="microseconds")
    payload_text = canonical_json(dict(payload))
    body_before_seq = _body_before_seq(
        occurred_at, actor, action, entity_type, entity_id, payload_text
    )
    # One statement: lock and read the head, link the event to it, hash it (the same SHA-256
    # as event_hash — "seq" is the last key of the canonical body), insert. The head's lock
    # is held from here to the commit, so operations append their event last.
    appended = db.first(
        "WITH head AS (SELECT seq, hash FROM audit_head WHERE id = 1" + (" FOR UPDATE" if db.postgres else "") + ") "
        "INSERT INTO audit_event (id, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash) "
        "SELECT head.seq + 1, :at, :actor, :action, :type, :entity, :payload, head.hash, "
        "sha256_hex(head.hash || CAST(:newline AS TEXT) || CAST(:body AS TEXT) || CAST(head.seq + 1 AS TEXT) || '}') "
        "FROM head RETURNING id, hash",
        {"at": occurred_at, "actor": actor, "action": action, "type": entity_type, "entity": entity_id,
         "payload": payload_text, "newline": "\n", "body": body_before_seq},
    )  # fmt: skip
    if appended is None:
        raise RuntimeError("audit_head is missing: the schema is older than migration 0005")
    return AppendedEvent(int(appended[0]), str(appended[1]))


@dataclass(frozen=True)
class ChainReport:
    n_events: int
    ok: bool
    first_bad_seq: int | None = None
    problem_zh: str = ""
    problem_en: str = ""
    head_hash: str = GENESIS_HASH


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash in order, up to the chain head read first; report the first event
    that does not verify.

    The head is read before the events, and only the events up to it are checked: events that
    others append meanwhile (each moves the head in its own transaction) are not half-seen, so a
    verification under load never reports a false break, whatever the isolation level.
    """
    head = session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    head_seq = None if head is None else int(head[0])
    prev = GENESIS_HASH
    expected_seq = 1
    n = 0
    query = select(AuditEvent).order_by(col(AuditEvent.id))
    if head_seq is not None:
        query = query.where(col(AuditEvent.id) <= head_seq)
    rows = session.execute(query).scalars()
    for ev in rows:
        n += 1
        if ev.id != expected_seq:
            return ChainReport(
                n, False, ev.id,
                f"事件序号不连续：期望 {expected_seq}，实际 {ev.id}（有事件被删除或插入）",
                f"event sequence gap: expected {expected_seq}, found {ev.id} (an event was "
                "removed or inserted)",
            )  # fmt: skip
        if ev.prev_hash != prev:
            return ChainReport(
                n, False, ev.id,
                f"事件 {ev.id} 记录的前一哈希与事件 {ev.id - 1} 的哈希不符",
                f"event {ev.id}'s prev_hash does not match the hash of event {ev.id - 1}",
            )  # fmt: skip
        recomputed = event_hash(
            ev.id, ev.occurred_at, ev.actor, ev.action, ev.entity_type, ev.entity_id,
            ev.payload, ev.prev_hash,
        )  # fmt: skip
        if recomputed != ev.hash:
            return ChainReport(
                n, False, ev.id,
                f"事件 {ev.id}（{ev.action}）的内容被改动：重新计算的哈希与存储的不符",
                f"event {ev.id} ({ev.action}) was altered: its recomputed hash differs from "
                "the stored one",
            )  # fmt: skip
        prev = ev.hash
        expected_seq += 1
    if head is None or int(head[0]) != n or str(head[1]) != prev:
        seq = None if head is None else int(head[0])
        return ChainReport(
            n, False, min(n, seq or 0) + 1,
            f"链头记录（第 {seq} 个事件）与最后一个事件（第 {n} 个）不符：最新的事件被删除，或有事件绕过链头写入",
            f"the chain head (event {seq}) does not match the last event ({n}): the newest "
            "events were removed, or events were written around the head",
        )  # fmt: skip
    return ChainReport(n, True, head_hash=prev)


def event_hash_at(session: Session, seq: int) -> str | None:
    """The stored hash of event ``seq`` (None if there is none)."""
    found = session.execute(select(col(AuditEvent.hash)).where(col(AuditEvent.id) == seq)).first()
    return None if found is None else str(found[0])
