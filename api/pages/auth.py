"""Signing in and out on pages: ``/login`` (the API's own sign-in — the same password check,
throttle and cookie session) and ``/logout``.

The sign-in form carries a token of its own (there is no session yet): the HMAC of a random
value kept in a short-lived cookie of the sign-in page, so another site cannot sign a browser
in behind its user's back (login CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SESSION_COOKIE, CsrfRefused, Registry, RegistryDep, csrf_token
from api.pages.forms import FormCallerDep, safe_next, see_other
from api.pages.rendering import render
from api.pages.session import viewer
from api.routes.auth import client_address, set_session_cookie, sign_in
from registry.errors import LoginThrottled, Unauthenticated
from registry.users import revoke_secret

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "tanhui_login"


def _login_token(registry: Registry, nonce: str) -> str:
    return hmac.new(registry.secret, f"login\n{nonce}".encode(), hashlib.sha256).hexdigest()


def _login_page(
    request: Request, registry: Registry, next_: str, status: int = 200,
    error: tuple[str, str] | None = None, username: str = "",
) -> HTMLResponse:  # fmt: skip
    nonce = secrets.token_urlsafe(24)
    response = render(request, registry, "login.html", {
        "nav": "account", "next": next_, "login_token": _login_token(registry, nonce),
        "error": error, "username": username,
    }, status_code=status)  # fmt: skip
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", path="/login",
        secure=registry.settings.environment != "development",
    )  # fmt: skip
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, registry: RegistryDep, next: str = "/account") -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    target = safe_next(next)
    if registry.read(lambda s: viewer(request, s)) is not None:
        return see_other(target)
    return _login_page(request, registry, target)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, registry: RegistryDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/account",
    login_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Sign in: the session cookie, then the page asked for. A wrong password or a throttled
    user: the form again with the bilingual reason (401, 429)."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(_login_token(registry, nonce), login_token):
        raise CsrfRefused(
            "登录表单已失效或不是本站的表单：请重新打开登录页。",
            "the sign-in form has expired or is not this site's: open the sign-in page again.",
        )
    target = safe_next(next)
    if not username.strip() or not password:
        error = ("请输入用户名和密码。", "enter a username and a password.")
        return _login_page(request, registry, target, 422, error, username)
    try:
        _, secret = sign_in(registry, username.strip(), password, client_address(request))
    except (Unauthenticated, LoginThrottled) as exc:
        status = 429 if isinstance(exc, LoginThrottled) else 401
        return _login_page(request, registry, target, status, (exc.message_zh, exc.message_en),
                           username)  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, registry, secret)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request, registry: RegistryDep) -> Response:
    """Sign out: a button (signing out changes something, so it is a form with the token)."""
    who = registry.read(lambda s: viewer(request, s))
    secret = request.cookies.get(SESSION_COOKIE)
    if who is None or secret is None:
        return see_other("/login")
    context: dict[str, Any] = {"nav": "account", "who": who, "csrf": csrf_token(registry, secret)}
    return render(request, registry, "logout.html", context)


@router.post("/logout")
def logout(caller: FormCallerDep) -> Response:
    """The session is revoked and its cookie removed; back to the library."""
    caller.write(lambda s, a: revoke_secret(s, a, "web_session", secret=caller.secret))
    response = see_other("/library")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
