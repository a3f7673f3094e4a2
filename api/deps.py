"""What the routes share, as ``Annotated`` dependencies: the registry (settings, engine, the
SQLite writer lock), who calls (bearer token or session cookie with its CSRF token), a page of
results, and the idempotency key of requests that move credits.

A route authenticates *inside* the transaction of its service call (:meth:`Caller.write`,
:meth:`Caller.read`): the user is read with its roles and organisation in the same transaction
that acts, so a user disabled a moment earlier cannot slip through.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.actors import Actor
from registry.db import is_postgres, read_scope, session_scope
from registry.errors import Forbidden, Invalid, Unauthenticated
from registry.settings import Settings
from registry.users import Throttle, actor_for_secret

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CallerDep",
    "IdempotencyKey",
    "Page",
    "PageDep",
    "Registry",
    "RegistryDep",
    "csrf_token",
    "scoped_key",
]

T = TypeVar("T")
SESSION_COOKIE = "tanhui_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    """A cookie-authenticated request that changes something without the session's CSRF token."""


class Registry:
    """The open registry of one server process (made in the app's lifespan)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.secret = settings.checked_secret().encode()
        self.throttle = Throttle(
            settings.login_max_failures, timedelta(minutes=settings.login_window_minutes),
            settings.login_max_failures_per_user,
        )  # fmt: skip
        # SQLite: one writer at a time in this process, waiting here (not polling the file
        # lock); other processes still meet BEGIN IMMEDIATE and the busy timeout
        self._sqlite_writer = None if is_postgres(engine) else threading.Lock()

    def writing(self) -> AbstractContextManager[Any]:
        return self._sqlite_writer if self._sqlite_writer is not None else nullcontext()

    def write(self, work: Callable[[Session], T]) -> T:
        """One write transaction (committed on success, rolled back on any error)."""
        with self.writing(), session_scope(self.engine) as session:
            return work(session)

    def read(self, work: Callable[[Session], T]) -> T:
        with read_scope(self.engine) as session:
            return work(session)


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


RegistryDep = Annotated[Registry, Depends(_registry)]


def csrf_token(registry: Registry, session_secret: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of its secret under the registry's secret key
    (a page gets it at sign-in; a forged request from another site cannot know it)."""
    return hmac.new(registry.secret, session_secret.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who calls: a secret (token or session) to check in the service's own transaction."""

    registry: Registry
    table: str
    secret: str

    def actor(self, session: Session) -> Actor:
        return actor_for_secret(session, self.table, self.secret)

    def write(self, work: Callable[[Session, Actor], T]) -> T:
        return self.registry.write(lambda s: work(s, self.actor(s)))

    def read(self, work: Callable[[Session, Actor], T]) -> T:
        return self.registry.read(lambda s: work(s, self.actor(s)))


def _caller(
    request: Request,
    registry: RegistryDep,
    authorization: Annotated[str | None, Header()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Caller:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("需要 Bearer 令牌。", "a Bearer token is needed.")
        return Caller(registry, "api_token", value.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("请先登录或提供 API 令牌。", "sign in or send an API token.")
    if request.method not in SAFE_METHODS:
        expected = csrf_token(registry, cookie)
        if not x_csrf_token or not hmac.compare_digest(expected, x_csrf_token):
            raise CsrfRefused(
                f"缺少或错误的 CSRF 令牌（请求头 {CSRF_HEADER}）。",
                f"missing or wrong CSRF token (header {CSRF_HEADER}).",
            )
    return Caller(registry, "web_session", cookie)


CallerDep = Annotated[Caller, Depends(_caller)]


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _page(
    registry: RegistryDep,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="每页条数（有上限） / page size (capped)")
    ] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="跳过条数 / rows to skip")] = 0,
) -> Page:
    return Page(min(limit, registry.settings.page_limit_max), offset)


PageDep = Annotated[Page, Depends(_page)]


def _idempotency_key(
    idempotency_key: Annotated[
        str,
        Header(
            min_length=1, max_length=100,
            description="幂等键：同一键同一请求只执行一次 / same key and body: the first result",
        ),
    ],
) -> str:  # fmt: skip
    key = idempotency_key.strip()
    if not key or not key.isprintable():
        raise Invalid("幂等键不能为空或含控制字符。", "an idempotency key must be printable text.")
    return key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]


def scoped_key(actor: Actor, key: str) -> str:
    """The ledger's key for a caller's ``Idempotency-Key``: per user, so that one user's key
    never replays (or blocks) another's."""
    return f"api-u{actor.user_id}-{key}"
