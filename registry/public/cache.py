"""Public figures cached until the registry changes: every change writes an audit event in the
same transaction (DEVELOPERS.md, rule 5), so a result computed from the registry is still right
as long as the audit head (sequence number and hash of the newest event) has not moved.

The key is the database (its URL), the head read in the caller's transaction, and the
arguments; the value is computed in that same transaction. On PostgreSQL (read committed) a
change committed between reading the head and computing may be cached under the older head:
it is then newer than its key, never older, and the next request (seeing the newer head)
computes again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from registry.public.as_of import audit_head, head_key

__all__ = ["by_audit_head"]

T = TypeVar("T")
_SIZE = 64  # entries kept per function (databases × heads × arguments)


def by_audit_head(compute: Callable[..., T]) -> Callable[..., T]:
    """``compute(session, *args)`` cached by (database, audit head, args); results must not be
    changed by callers (tuples, frozen dataclasses — a list is copied on the way out)."""
    cache: dict[tuple[Any, ...], T] = {}
    lock = threading.Lock()

    @wraps(compute)
    def cached(session: Session, *args: Any) -> T:
        head = head_key(audit_head(session))
        bind = session.get_bind()
        url = bind.engine.url if isinstance(bind, Connection) else bind.url
        key = (str(url), head, args)
        with lock:
            found = cache.get(key)
        if found is None:
            found = compute(session, *args)
            with lock:
                if len(cache) >= _SIZE:
                    cache.pop(next(iter(cache)))
                cache[key] = found
        return list(found) if isinstance(found, list) else found  # type: ignore[return-value]

    return cached
