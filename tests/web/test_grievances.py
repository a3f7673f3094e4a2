"""Grievances: sent from a project's public page by anyone (a signed form token, a size limit
and a honeypot instead of the session's CSRF token), stored and audited in one transaction
(the audit event keeps a digest, never the sender's name, contact or message), never shown in
public; read and answered by bureau staff only. Every refusal is bilingual and writes nothing."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text

from api.deps import SESSION_COOKIE
from api.pages.form_token import MAX_AGE_S, form_token
from registry.audit import verify_chain
from registry.db import read_scope
from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import HTML, Web
from tests.web.public_pages import household_names, sign_in, visible_text

NAME, CONTACT = "王小明", "138-0000-0000"
MESSAGE = "项目边界内有我家的自留山，请核实。"


def _token(web: Web, code: str = "L1") -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', web.page(f"/projects/{code}").text)
    assert found, "the page has no form token"
    return found.group(1)


def _send(web: Web, code: str = "L1", **fields: str) -> Any:
    form = {"form_token": _token(web), "name": NAME, "contact": CONTACT, "message": MESSAGE,
            "website": ""} | fields  # fmt: skip
    return web.client.post(f"/projects/{code}/grievances", data=form, headers=HTML,
                           follow_redirects=False)  # fmt: skip


def _stored(web: Web) -> list[tuple[Any, ...]]:
    with web.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT id, project_code, name, contact, message, status, answer FROM grievance ORDER BY id"))]  # fmt: skip


def _events(web: Web, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with web.engine.connect() as c:
        rows = c.execute(text("SELECT actor, entity_id, payload FROM audit_event WHERE action = :a "
                              "ORDER BY id"), {"a": action})  # fmt: skip
        return [(str(a), str(e), json.loads(p)) for a, e, p in rows]


def test_a_grievance_is_stored_audited_and_never_shown_in_public(web: Web) -> None:
    r = _send(web)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/projects/L1?grievance=received#grievance"
    [(gid, project, name, contact, message, status, answer)] = _stored(web)
    assert (project, name, contact, message, status, answer) == (
        "L1", NAME, CONTACT, MESSAGE, "open", None)  # fmt: skip
    [(actor, entity, payload)] = _events(web, "grievance.submitted")
    # the digest, worked out here: SHA-256 of the canonical JSON of [name, contact, message]
    canonical = json.dumps([NAME, CONTACT, MESSAGE], ensure_ascii=False, separators=(",", ":"))
    assert payload == {"project": "L1", "status": "open",
                       "digest": hashlib.sha256(canonical.encode()).hexdigest()}  # fmt: skip
    assert actor == "public@web" and entity == str(gid)
    with read_scope(web.engine) as s:
        assert verify_chain(s).ok
    thanks = web.page(r.headers["location"]).text
    assert "已收到您的意见" in thanks
    for path in ("/projects/L1", "/projects/L1?lang=en", "/ledger", "/library",
                 "/projects/L1/stands.csv"):  # fmt: skip
        body = visible_text(web.page(path).content.decode("utf-8-sig"))
        assert NAME not in body and CONTACT not in body and MESSAGE not in body, path


def test_refusals_are_bilingual_keep_the_text_and_write_nothing(web: Web) -> None:
    secret = web.client.app.state.registry.secret  # type: ignore[attr-defined]
    stale = form_token(secret, "grievance", "L1", time.time() - MAX_AGE_S - 60)
    other = form_token(secret, "grievance", "L2")  # made for another project's page
    cases = [
        ({"form_token": ""}, "表单已过期", "has expired"),
        ({"form_token": stale}, "表单已过期", "has expired"),
        ({"form_token": other}, "表单已过期", "has expired"),
        ({"form_token": "9" * 10 + "." + "0" * 64}, "表单已过期", "has expired"),
        ({"website": "http://spam.example"}, "无法接受", "cannot be accepted"),
        ({"message": "  "}, "请填写内容", "the message is missing"),
        ({"name": ""}, "请填写姓名", "the name is missing"),
        ({"message": "长" * 5001}, "内容过长：5001 个字符", "too long: 5001 characters"),
        ({"contact": "x" * 201}, "联系方式过长", "the contact is too long"),
    ]
    before = len(_events(web, "grievance.submitted"))
    for fields, zh, en in cases:
        r = _send(web, **fields)
        assert r.status_code == 422, (fields, r.status_code)
        assert zh in r.text and en in r.text and "Traceback" not in r.text, fields
        if "message" not in fields:  # what the sender wrote is on the page again
            assert MESSAGE in r.text, fields
    too_big = web.client.post("/projects/L1/grievances", headers=HTML,
                              data={"form_token": _token(web), "name": NAME, "message": "字" * 30_000})  # fmt: skip
    assert too_big.status_code == 422 and "too large" in too_big.text
    unknown = _send(web, code="NOPE")
    assert unknown.status_code == 404 and "没有编号为" in unknown.text
    assert _stored(web) == [] and len(_events(web, "grievance.submitted")) == before


def test_staff_read_and_answer_others_may_not(web: Web) -> None:
    assert _send(web).status_code == 303
    [(gid, *_)] = _stored(web)
    assert web.page("/projects/L1/grievances").status_code == 401  # nobody signed in
    sign_in(web, "buyer")
    refused = web.page("/projects/L1/grievances")
    assert refused.status_code == 403 and NAME not in refused.text
    csrf = sign_in(web, "li")  # bureau staff
    listed = web.page("/projects/L1/grievances").text
    assert NAME in listed and CONTACT in listed and MESSAGE in listed
    assert "1 条待答复" in web.page("/projects/L1").text  # the staff's link on the project page
    url = f"/projects/L1/grievances/{gid}/answer"
    forged = web.client.post(url, data={"answer": "已核实", "csrf_token": "0" * 64}, headers=HTML)
    assert forged.status_code == 403 and _stored(web)[0][5] == "open"
    done = web.client.post(url, data={"answer": "已核实，不在项目范围内。", "status": "closed",
                                      "csrf_token": csrf}, headers=HTML, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    assert _stored(web)[0][5:] == ("closed", "已核实，不在项目范围内。")
    [(actor, entity, payload)] = _events(web, "grievance.answered")
    assert actor.startswith("li@") and entity == str(gid)
    assert payload["from"] == "open" and payload["status"] == "closed"
    assert "已核实" not in json.dumps(payload, ensure_ascii=False)  # a digest, not the text
    again = web.client.post(url, data={"answer": "再答复一次", "csrf_token": csrf}, headers=HTML)
    assert again.status_code == 409 and "已关闭" in again.text and "is closed" in again.text
    assert "再答复一次" in again.text  # the answer as written is kept on the page
    assert len(_events(web, "grievance.answered")) == 1
    web.client.cookies.clear()  # signed out: the public page
    public = web.page("/projects/L1").text
    assert "已核实，不在项目范围内" not in public and "待答复" not in public


def test_no_household_name_on_the_public_pages(web: Web) -> None:
    households = household_names(web.engine)
    for path in ("/projects/L1", "/ledger", "/library"):
        body = visible_text(web.page(path).text)
        assert not [n for n in households if n in body], path


def test_grievance_sent_and_answered_in_chromium(
    live_server: str, browser_page: Any, artifacts: Path
) -> None:
    page = browser_page
    page.goto(live_server + "/projects/L1")
    page.fill("form.grievance input[name=name]", NAME)
    page.fill("form.grievance textarea[name=message]", MESSAGE)
    page.click("form.grievance button[type=submit]")
    page.wait_for_url("**/projects/L1?grievance=received*")
    assert "已收到您的意见" in page.inner_text("main") and NAME not in page.inner_text("main")
    # bureau staff sign in (the API's login sets the session cookie) and answer it
    r = httpx.post(
        live_server + "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert r.status_code == 200
    host = urlsplit(live_server).hostname
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": r.cookies[SESSION_COOKIE],
                               "domain": host, "path": "/"}])  # fmt: skip
    page.goto(live_server + "/projects/L1/grievances")
    assert page.locator("article.grievance").count() == 1 and NAME in page.inner_text("main")
    page.fill("article.grievance textarea[name=answer]", "已收到，正在核实。")
    page.click("article.grievance button[type=submit]")
    page.wait_for_url("**/projects/L1/grievances*")
    assert "正在核实" in page.inner_text("article.grievance .answer")
    page.screenshot(path=str(artifacts / "grievances_staff.png"), full_page=True)
