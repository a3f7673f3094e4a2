"""Grievances: the public form on a project page (no sign-in: protected by a signed form token,
a size limit and a honeypot field instead of the session's CSRF token), and the signed-in list
where bureau staff read and answer them (``/projects/{code}/grievances``)."""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SESSION_COOKIE, RegistryDep, csrf_token
from api.errors import STATUS
from api.pages.form_token import check_form_token
from api.pages.project import GRIEVANCE_FORM, GrievanceForm, render_project
from api.pages.rendering import render
from api.pages.session import page_csrf, viewer
from api.routes.auth import client_address
from registry.errors import Conflict, Forbidden, Invalid, RegistryError, Unauthenticated
from registry.grievances import LIMITS, answer_grievance, grievances, submit_grievance
from registry.projects.core import find_project
from registry.public import data_as_of

__all__ = ["MAX_FORM_BYTES", "router"]

router = APIRouter(include_in_schema=False)
CodePath = Annotated[str, Path(max_length=40)]
MAX_FORM_BYTES = 64 * 1024
"""The largest form body accepted (bytes): the fields' limits, percent-encoded, fit in it."""


async def _form(request: Request) -> dict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``), read up to
    :data:`MAX_FORM_BYTES`; a larger body is refused before it is all read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Invalid("请用网页上的表单提交。", "send the form from the web page.")
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise Invalid(
                f"提交的内容过大（超过 {MAX_FORM_BYTES // 1024} KiB）。",
                f"the submission is too large (over {MAX_FORM_BYTES // 1024} KiB).",
            )
        chunks.append(chunk)
    try:
        fields = parse_qs(b"".join(chunks).decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Invalid("表单内容无法读取。", "the form cannot be read.") from exc
    return {key: values[0] for key, values in fields.items()}


class SubmissionThrottle:
    """At most ``per_address`` grievances from one client address within ``window_s`` seconds,
    and ``overall`` from everyone: each one writes an audit event, and a moved audit head makes
    the server rebuild the map's tiles and the open data — a script must not keep both cores
    busy that way. In memory, per server process (SpatiaLite runs one)."""

    def __init__(self, per_address: int = 5, overall: int = 120, window_s: float = 600.0) -> None:
        self.per_address, self.overall, self.window_s = per_address, overall, window_s
        self._seen: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen and self._seen[0][0] < now - self.window_s:
                self._seen.popleft()
            mine = sum(1 for _, a in self._seen if a == address)
            if mine >= self.per_address or len(self._seen) >= self.overall:
                return False
            self._seen.append((now, address))
            return True


def _throttle(request: Request) -> SubmissionThrottle:
    """The server's throttle (one per app)."""
    state = request.app.state
    if not hasattr(state, "grievance_throttle"):
        state.grievance_throttle = SubmissionThrottle()
    throttle: SubmissionThrottle = state.grievance_throttle
    return throttle


@router.post("/projects/{code}/grievances", response_model=None)
async def submit(request: Request, registry: RegistryDep, code: CodePath) -> Response:
    """A grievance from the public form: stored and audited, then back to the page (303)."""
    fields = await _form(request)
    form = GrievanceForm(
        name=fields.get("name", "")[: LIMITS["name"] * 2],
        contact=fields.get("contact", "")[: LIMITS["contact"] * 2],
        message=fields.get("message", "")[: LIMITS["message"] * 2],
    )  # fmt: skip
    refusal: tuple[str, str] | None = None
    address = client_address(request)
    if fields.get("website"):  # the hidden honeypot: only a program fills it in
        refusal = ("无法接受此次提交。", "this submission cannot be accepted.")

    elif not check_form_token(registry.secret, GRIEVANCE_FORM, code, fields.get("form_token")):
        refusal = (
            "表单已过期或不是从本页提交的：您填写的内容仍在下方，请再提交一次。",
            "the form has expired or was not sent from this page: what you wrote is still "
            "below, please send it again.",
        )
    if refusal is None and not _throttle(request).allow(address):
        refusal = (
            "提交过于频繁：请十分钟后再提交，您填写的内容仍在下方。",
            "too many submissions: please send it again in ten minutes; what you wrote is still "
            "below.",
        )
    if refusal is None:
        try:
            await run_in_threadpool(
                registry.write,
                lambda s: submit_grievance(s, code, form.name, form.contact, form.message),
            )
        except Invalid as exc:
            refusal = (exc.message_zh, exc.message_en)
    if refusal is not None:
        return await run_in_threadpool(
            render_project, request, registry, code, form=form, refusal=refusal,
            status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/projects/{code}?grievance=received#grievance", status_code=303)


def _signed_in(request: Request, session: Session) -> Any:
    who = viewer(request, session)
    if who is None:
        raise Unauthenticated(
            "请先登录（林业局工作人员可查看申诉与意见）。",
            "sign in first (bureau staff read grievances).",
        )
    return who


def _render_list(
    request: Request, registry: RegistryDep, code: str, *, refusal: tuple[str, str] | None = None,
    draft: tuple[int, str] | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    def read(session: Session) -> tuple[Any, ...]:
        who = _signed_in(request, session)
        project = find_project(session, code)
        return project, grievances(session, who, code), who, data_as_of(session)

    project, found, who, as_of = registry.read(read)
    return render(request, registry, "grievances.html", {
        "project": project, "grievances": found, "viewer": who, "nav": "library",
        "csrf": page_csrf(request, registry), "limits": LIMITS, "refusal": refusal,
        "draft": draft,
    }, status_code=status_code, as_of=as_of)  # fmt: skip


@router.get("/projects/{code}/grievances", response_class=HTMLResponse)
def grievance_list(request: Request, registry: RegistryDep, code: CodePath) -> HTMLResponse:
    """The project's grievances, newest first, with a form to answer each (bureau staff)."""
    return _render_list(request, registry, code)


@router.post("/projects/{code}/grievances/{grievance_id}/answer", response_model=None)
async def answer(
    request: Request, registry: RegistryDep, code: CodePath,
    grievance_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:  # fmt: skip
    """Answer (or close) a grievance: signed-in bureau staff, with the session's CSRF token.
    A refused answer (empty, too long, a closed grievance) shows the list again with the
    reason and the answer as written."""
    fields = await _form(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    sent = fields.get("csrf_token", "")
    if not cookie or not hmac.compare_digest(csrf_token(registry, cookie), sent):
        raise Forbidden("缺少或错误的 CSRF 令牌，请刷新页面后重试。",
                        "missing or wrong CSRF token: reload the page and try again.")  # fmt: skip
    text = fields.get("answer", "")

    def work(session: Session) -> None:
        who = _signed_in(request, session)
        answer_grievance(session, who, code, grievance_id, text, fields.get("status", "answered"))

    try:
        await run_in_threadpool(registry.write, work)
    except (Invalid, Conflict) as exc:
        return await run_in_threadpool(
            _render_list, request, registry, code, refusal=(exc.message_zh, exc.message_en),
            draft=(grievance_id, text[: LIMITS["answer"] * 2]), status_code=_status(exc),
        )  # fmt: skip
    return RedirectResponse(f"/projects/{code}/grievances#g{grievance_id}", status_code=303)


def _status(exc: RegistryError) -> int:
    return STATUS[exc.category]
