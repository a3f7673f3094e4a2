"""Who is looking at a page: the signed-in user of the session cookie (or nobody), and the
CSRF token a page's forms send back. Public pages work for nobody; a signed-in user sees
the same public page plus what its roles may do there."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE, Registry, csrf_token
from registry.actors import Actor
from registry.errors import Unauthenticated
from registry.users import actor_for_secret

__all__ = ["page_csrf", "viewer"]


def viewer(request: Request, session: Session) -> Actor | None:
    """The user signed in with this request's session cookie, read in ``session`` (the page's
    own transaction); None when nobody is (no cookie, or an expired or revoked session)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return actor_for_secret(session, "web_session", secret)
    except Unauthenticated:
        return None


def page_csrf(request: Request, registry: Registry) -> str | None:
    """The CSRF token of this request's session (for a form's hidden ``csrf_token`` field or
    the ``X-CSRF-Token`` header of a script's request), None without a session."""
    secret = request.cookies.get(SESSION_COOKIE)
    return csrf_token(registry, secret) if secret else None
