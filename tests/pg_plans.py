"""PostgreSQL's own plans of the statements a real function sends (tests and bench/province).

A psycopg cursor subclass on the session's connection keeps each statement and its parameters
(it runs them unchanged); :func:`explain` asks the server for the plan of each with the same
parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from sqlalchemy.orm import Session

__all__ = ["SPATIAL", "explain", "recorded"]

SPATIAL = re.compile(r"ST_Intersects|ST_Contains|&&|search_frame", re.IGNORECASE)


class _Recording(psycopg.Cursor[Any]):
    """A real psycopg cursor that also keeps each statement and its parameters."""

    seen: ClassVar[list[tuple[str, Any]]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        type(self).seen.append((str(query), params))
        return super().execute(query, params, **kwargs)


def _driver(session: Session) -> psycopg.Connection[Any]:
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


@contextmanager
def recorded(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent on the session's connection inside the block."""
    driver = _driver(session)
    before = driver.cursor_factory
    _Recording.seen = []
    driver.cursor_factory = _Recording
    try:
        yield _Recording.seen
    finally:
        driver.cursor_factory = before


def explain(
    session: Session, statements: list[tuple[str, Any]], table: str = "stand",
    analyze: bool = False, spatial_only: bool = True,
) -> list[str]:  # fmt: skip
    """EXPLAIN (text) of each recorded (spatial, unless not ``spatial_only``) statement that
    names ``table``."""
    driver = _driver(session)
    plans = []
    for sql, params in statements:
        if (spatial_only and not SPATIAL.search(sql)) or not re.search(rf"\b{table}\b", sql):
            continue
        with driver.cursor() as cur:
            cur.execute(("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ") + sql, params)
            plans.append("\n".join(str(r[0]) for r in cur.fetchall()))
    return plans
