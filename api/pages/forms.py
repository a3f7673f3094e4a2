"""What the signed-in pages share.

- :data:`FormCallerDep`: who posts a form — the session cookie's user, with the session's CSRF
  token in the form's hidden field ``csrf_token`` (a form cannot send the API's
  ``X-CSRF-Token`` header); a post without it, or with another session's, is refused (403)
  before anything is read or written. The caller is the API's :class:`api.deps.Caller`, so a
  page's action runs the API's own route function — the same service call, the same checks.
- :func:`signed_in`: a page only a signed-in user sees (nobody: to the sign-in page).
- :func:`form_value`: a form's fields read into the API's request bodies, a wrong value a
  bilingual refusal (422) shown as a page.
- a new idempotency key in every rendered form (``form_key``): a form sent twice (a double
  click, a reload) is one request.
- the template globals the signed-in parts of pages use (``project_actions``, ``new_form_key``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.deps import SESSION_COOKIE, Caller, CsrfRefused, RegistryDep, csrf_token
from api.pages import rendering
from api.pages.session import viewer
from registry.actors import Actor
from registry.errors import Invalid, Unauthenticated
from registry.projects import TRANSITIONS
from registry.vocabulary import ProjectStatus, Role

__all__ = [
    "FormCallerDep",
    "FormKey",
    "form_value",
    "new_form_key",
    "project_actions",
    "safe_next",
    "see_other",
    "signed_in",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _form_caller(
    request: Request, registry: RegistryDep,
    csrf_token_: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Caller:  # fmt: skip
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("请先登录（/login）。", "sign in first (/login).")
    if not csrf_token_ or not hmac.compare_digest(csrf_token(registry, cookie), csrf_token_):
        raise CsrfRefused(
            "表单缺少或带有错误的 CSRF 令牌（csrf_token）：请重新打开页面后再提交。",
            "the form's CSRF token (csrf_token) is missing or wrong: open the page again and "
            "send the form from it.",
        )
    return Caller(registry, "web_session", cookie)


FormCallerDep = Annotated[Caller, Depends(_form_caller)]
FormKey = Annotated[str, Form(max_length=100)]


def new_form_key() -> str:
    """A fresh idempotency key for one rendered form."""
    return "form-" + secrets.token_urlsafe(16)


def see_other(url: str) -> RedirectResponse:
    """After a form's post, the page to show (303: the browser GETs it)."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/account") -> str:
    """A page of this site to go to after signing in (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def signed_in(
    request: Request, registry: Any, work: Callable[[Session, Actor], T]
) -> T | RedirectResponse:
    """``work`` with the signed-in user, in one read transaction; nobody signed in: the
    sign-in page, coming back here afterwards."""
    missing = object()

    def read(session: Session) -> Any:
        actor = viewer(request, session)
        return missing if actor is None else work(session, actor)

    done = registry.read(read)
    if done is missing:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other("/login?next=" + quote(here, safe=""))
    result: T = done
    return result


def form_value(model: type[M], **values: Any) -> M:
    """A form's fields as the API's request body ``model``; a field the body refuses is a
    bilingual refusal naming it (422 page), never a traceback."""
    try:
        return model(**values)
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"表单填写有误：{wrong}", f"the form has a wrong value: {wrong}") from exc


def whole_number(text: str, zh: str, en: str) -> int:
    """A form's whole number (credits, years); anything else a bilingual refusal."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise Invalid(
            f"{zh}须为正整数，收到 {value!r}。", f"{en} must be a whole number, not {value!r}."
        )
    return int(value)


# -- template globals -------------------------------------------------------------------------

ACTION_NAMES = {
    "submit": ("提交审定", "Submit for validation"),
    "validate": ("审定通过", "Validate"),
    "register": ("登记", "Register"),
    "reject": ("退回", "Send back"),
    "monitoring": ("提交监测期（样地复测表）", "Submit a monitoring period (plot workbook)"),
    "verify": ("核证监测期", "Verify the monitoring period"),
    "issue": ("签发", "Issue credits"),
}
_REJECT_ROLE = {ProjectStatus.SUBMITTED: Role.VERIFIER, ProjectStatus.VALIDATED: Role.ADMIN,
                ProjectStatus.MONITORED: Role.VERIFIER}  # fmt: skip


def project_actions(actor: Actor | None, status: str) -> list[dict[str, str]]:
    """The lifecycle actions a user's roles allow from a project's status (the buttons a
    project page shows; the service decides again when one is sent): ``action``, ``kind``
    (transition, monitoring, verify, issue) and the bilingual name."""
    if actor is None:
        return []
    try:
        now = ProjectStatus(status)
    except ValueError:
        return []
    shown: list[dict[str, str]] = []
    for action in ("submit", "validate", "register", "reject"):
        rule = TRANSITIONS[action]
        roles = (_REJECT_ROLE[now],) if action == "reject" and now in _REJECT_ROLE else rule.roles
        if now in rule.sources and actor.has(*roles):
            shown.append({"action": action, "kind": "transition"})
    extra = (("monitoring", "monitor", "monitoring"), ("verify", "verify", "verify"),
             ("issue", "issue", "issue"))  # fmt: skip
    for action, rule_name, kind in extra:
        rule = TRANSITIONS[rule_name]
        if now in rule.sources and actor.has(*rule.roles):
            shown.append({"action": action, "kind": kind})
    for item in shown:
        item["zh"], item["en"] = ACTION_NAMES[item["action"]]
    return shown


def _has_role(actor: Actor | None, *roles: str) -> bool:
    return actor is not None and actor.has(*(Role(r) for r in roles))


rendering._env.globals.update(
    project_actions=project_actions, new_form_key=new_form_key, has_role=_has_role
)
