"""The time the registry's data stand at: the last audit event's (every change writes one)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.results import Result

__all__ = ["AuditHead", "audit_head", "data_as_of", "head_key"]


def data_as_of(session: Session) -> str | None:
    """ISO 8601 UTC time of the newest audit event, or None for an empty registry."""
    row = DriverSQL(session).first("SELECT occurred_at FROM audit_event ORDER BY id DESC LIMIT 1")
    return str(row[0]) if row else None


@dataclass(frozen=True)
class AuditHead(Result):
    """Where the audit chain stands: its newest event's sequence number and hash (0 and "" for
    an empty registry). Every change of the registry's data writes an event, so this names a
    state of the data: two reads with the same head saw the same data."""

    seq: int
    hash: str


def audit_head(session: Session) -> AuditHead:
    """The chain head (migration 0005 keeps it in one row, moved by every audit event)."""
    row = DriverSQL(session).first("SELECT seq, hash FROM audit_head WHERE id = 1")
    return AuditHead(int(row[0]), str(row[1] or "")) if row else AuditHead(0, "")


def head_key(head: AuditHead) -> tuple[int, str]:
    """A state of the data, to key what is derived from it: the head's sequence number and
    hash ((0, "") for an empty registry)."""
    return (head.seq, head.hash)
