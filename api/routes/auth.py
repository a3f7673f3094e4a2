"""Sign-in: cookie sessions (with a CSRF token) for pages, bearer tokens for machines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import SESSION_COOKIE, CallerDep, Registry, RegistryDep, csrf_token
from api.schemas import Login, LoginPublic, TokenCreate, TokenPublic, UserPublic
from registry.errors import LoginThrottled, Unauthenticated
from registry.users import authenticate, issue_secret, list_users, revoke_secret

__all__ = ["client_address", "router", "set_session_cookie", "sign_in"]

router = APIRouter(prefix="/auth", tags=["auth 登录"])


def client_address(request: Request) -> str:
    """The address the sign-in comes from, as the server sees it (the throttle counts by it)."""
    return request.client.host if request.client is not None else ""


def sign_in(registry: Registry, username: str, password: str, client: str) -> tuple[Any, str]:
    """Check a password (failures counted per username and client address, with a higher
    ceiling per username from all addresses, and committed even when refused:
    :class:`Unauthenticated`, or :class:`LoginThrottled` when too many) and open a cookie
    session: the user's view and the session's secret. The API's login and the sign-in page
    both sign in here."""
    hours = registry.settings.session_hours
    refusal: Unauthenticated | LoginThrottled | None = None

    def work(session: Any) -> tuple[Any, str] | None:
        nonlocal refusal
        try:
            actor = authenticate(session, username, password, registry.throttle, client)
        except (Unauthenticated, LoginThrottled) as exc:  # the failure is committed, then refused
            refusal = exc
            return None
        _, secret = issue_secret(session, actor, "web_session", "login", timedelta(hours=hours))
        views, _ = list_users(session, actor, actor.organisation, limit=10_000)
        return next(v for v in views if v.username == actor.name), secret

    done = registry.write(work)
    if done is None:
        assert refusal is not None
        raise refusal
    return done


def set_session_cookie(response: Response, registry: Registry, secret: str) -> None:
    """The session cookie: HTTP only, same-site strict, secure outside development."""
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=int(registry.settings.session_hours * 3600),
        httponly=True, samesite="strict", secure=registry.settings.environment != "development",
        path="/",
    )  # fmt: skip


@router.post("/login", response_model=LoginPublic)
def login(
    body: Login, registry: RegistryDep, request: Request, response: Response
) -> dict[str, Any]:
    """登录：设置会话 Cookie，返回 CSRF 令牌 / sign in: a session cookie and its CSRF token.
    Failed sign-ins are counted per username and client address, with a higher ceiling per
    username from all addresses (throttled: 429)."""
    user, secret = sign_in(registry, body.username, body.password, client_address(request))
    set_session_cookie(response, registry, secret)
    hours = registry.settings.session_hours
    return {"user": user.to_dict(), "csrf_token": csrf_token(registry, secret),
            "expires_in_s": int(hours * 3600)}  # fmt: skip


@router.post("/logout", status_code=204)
def logout(request: Request, caller: CallerDep, response: Response) -> None:
    """退出：结束会话 / sign out: the session is revoked."""
    if caller.table == "web_session":
        caller.write(lambda s, a: revoke_secret(s, a, "web_session", secret=caller.secret))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserPublic)
def me(caller: CallerDep) -> dict[str, Any]:
    """当前用户 / who is signed in."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        views, _ = list_users(session, actor, actor.organisation, limit=10_000)
        return next(v for v in views if v.username == actor.name).to_dict()

    return caller.read(work)


@router.post("/tokens", response_model=TokenPublic, status_code=201)
def make_token(body: TokenCreate, caller: CallerDep) -> dict[str, Any]:
    """创建 API 令牌（只显示一次） / make an API token (shown once, stored hashed)."""
    token_id, secret = caller.write(
        lambda s, a: issue_secret(s, a, "api_token", body.name, None, body.for_user)
    )
    return {"id": token_id, "token": secret}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, caller: CallerDep) -> None:
    """撤销 API 令牌 / revoke an API token (its owner or an admin)."""
    caller.write(lambda s, a: revoke_secret(s, a, "api_token", token_id))
