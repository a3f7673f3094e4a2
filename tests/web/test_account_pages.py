"""The signed-in pages through the TestClient, on both engines: signing in and out (the
API's throttle, login CSRF, a safe return address), CSRF on every form post (a post without the
session's token is refused and changes nothing), the account page by role (balances and
history worked out by hand from the fixture), retiring to a certificate, purchase requests
from asking to confirming, pledges, the inventory upload's per-record report, project creation
from filters and from a map selection, and lifecycle actions with comments.

The fixture (tests/web/web_fixtures.py): HOLD-L1 holds 800 active credits (201–1000 of 2026),
BUYER 70 (131–200; 101–130 were retired for 某电力公司), BANK none."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import create_app
from registry.db import read_scope
from registry.ledger import balance
from registry.projects import project_summary
from registry.settings import Settings
from tests.api.api_fixtures import read_tokens
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import draft
from tests.web.conftest import HTML, Web
from tests.web.pages import Person, form_fields
from tests.web.web_fixtures import public_registry


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(sql)).scalar_one())


def _active(engine: Engine, account: str) -> int:
    with read_scope(engine) as s:
        return balance(s, account)["active"]


def _figure(page: str, account: str, state: str) -> str:
    block = re.search(
        rf'<article class="account" data-account="{account}">(.*?)</article>', page, re.S
    )
    assert block, f"no account {account} on the page"
    found = re.search(rf'<b data-state="{state}">([^<]*)</b>', block.group(1))
    assert found
    return found.group(1)


# -- signing in and out --------------------------------------------------------------------------


def test_sign_in_and_out(web: Web) -> None:
    r = web.page("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Faccount"
    login = web.page("/login?next=/account")
    assert login.status_code == 200 and 'name="password"' in login.text
    fields = form_fields(login.text, "/login")
    sessions = _count(web.engine, "SELECT COUNT(*) FROM web_session")

    # a wrong password: the form again, bilingual, no session
    r = web.client.post("/login", data={**fields, "username": "buyer", "password": "wrong"},
                        headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text and "wrong username or password" in r.text
    assert _count(web.engine, "SELECT COUNT(*) FROM web_session") == sessions
    # a sign-in form from elsewhere (no token of the sign-in page): refused, no session
    r = web.client.post("/login", data={"username": "buyer", "password": "correct horse battery staple"},
                        headers=HTML, follow_redirects=False)  # fmt: skip
    assert r.status_code == 403 and "登录表单" in r.text
    assert _count(web.engine, "SELECT COUNT(*) FROM web_session") == sessions

    buyer = Person(web, "buyer")
    assert _count(web.engine, "SELECT COUNT(*) FROM web_session") == sessions + 1
    page = buyer.get("/account")
    assert (
        page.status_code == 200 and 'data-user="buyer"' in page.text and "某电力公司" in page.text
    )
    # a return address is this site's only
    assert buyer.get("/login?next=//evil.example/x").headers["location"] == "/account"
    assert buyer.get("/login?next=/library").headers["location"] == "/library"

    # signing out is a form with the session's token; without it nothing happens
    r = buyer.client.post("/logout", data={}, headers=HTML, follow_redirects=False)
    assert r.status_code == 403
    assert buyer.get("/account").status_code == 200
    r = buyer.send("/logout", "/logout")
    assert r.status_code == 303 and r.headers["location"] == "/library"
    assert buyer.get("/account").status_code == 303
    assert _count(web.engine, "SELECT COUNT(*) FROM web_session WHERE revoked_at IS NOT NULL") == 1


def test_sign_in_is_throttled(web: Web) -> None:
    page = web.page("/login").text
    statuses = []
    for password in ["nope"] * 6 + ["correct horse battery staple"]:
        # each refusal shows the form again (with a new token of its own): it is sent again
        fields = {**form_fields(page, "/login"), "username": "li", "password": password}
        r = web.client.post("/login", data=fields, headers=HTML, follow_redirects=False)
        statuses.append(r.status_code)
        page = r.text
    # the registry allows 5 failures in the window, then refuses every try, the right one too
    assert statuses == [401] * 5 + [429, 429]
    assert "登录失败次数过多" in page and "too many failed sign-ins" in page


# -- CSRF on form posts ----------------------------------------------------------------------


def test_a_form_post_without_the_session_token_changes_nothing(web: Web) -> None:
    buyer, li = Person(web, "buyer"), Person(web, "li")
    form = {"project": "L1", "buyer_account": "BUYER", "quantity": "5", "form_key": "k1"}
    before = _count(web.engine, "SELECT COUNT(*) FROM purchase_request")
    theirs = form_fields(li.get("/account").text, "/account/retire")["csrf_token"]
    for token in (None, "forged", theirs):  # none, made up, another session's
        data = form if token is None else {**form, "csrf_token": token}
        r = buyer.client.post("/purchase-requests", data=data, headers=HTML, follow_redirects=False)
        assert r.status_code == 403, (token, r.status_code)
        assert "CSRF" in r.text and "令牌" in r.text
    r = buyer.client.post("/account/retire", data={"account": "BUYER", "quantity": "1",
                          "beneficiary": "x", "form_key": "k2"}, headers=HTML)  # fmt: skip
    assert r.status_code == 403
    assert _count(web.engine, "SELECT COUNT(*) FROM purchase_request") == before
    assert _active(web.engine, "BUYER") == 70
    # with the page's own token the same request goes through
    r = buyer.send("/purchase-requests/new?project=L1", "/purchase-requests", quantity="5")
    assert r.status_code == 303
    assert _count(web.engine, "SELECT COUNT(*) FROM purchase_request") == before + 1
    # nobody signed in: refused too
    r = web.client.post("/purchase-requests", data=form, headers=HTML)
    assert r.status_code == 401


# -- the account page, purchase requests, retiring, pledges ------------------------------------


def test_the_buyer_and_the_bureau_through_a_purchase(web: Web) -> None:
    buyer, li = Person(web, "buyer"), Person(web, "li")
    page = buyer.get("/account").text
    # BUYER: 100 in, 30 retired out → 70 active; its two movements, newest first
    assert _figure(page, "BUYER", "active") == "70" and _figure(page, "BUYER", "retired") == "30"
    history = re.findall(r'<tr data-op="\d+" data-kind="(\w+)">', page)
    assert history[:2] == ["retire", "transfer"]
    # the retirement took 30 (the 100-block was closed, its 70 left written back), the
    # transfer brought 100
    assert re.findall(r'data-change="(-?\d+)"', page)[:2] == ["-30", "100"]
    assert re.search(r'href="/certificates/RC-\d{4}-\d{8}"', page)

    ask = buyer.get("/purchase-requests/new?project=L1").text
    assert re.search(r'<b data-figure="available">800</b>', ask)
    r = buyer.send("/purchase-requests/new?project=L1", "/purchase-requests", quantity="40",
                   note="合同 2026-01")  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/account?notice=requested")
    mine = buyer.get("/account").text
    request_id = re.search(
        r'<tr id="purchase-(\d+)" data-request="\d+" data-status="requested">', mine
    )
    assert request_id, "the request is listed as requested"
    rid = request_id.group(1)
    assert "待确认" in mine

    pending = li.get("/account").text
    assert f'<tr data-request="{rid}" data-status="requested">' in pending
    assert _figure(pending, "HOLD-L1", "active") == "800"
    # the confirmation sent twice from the same page (a double click): its key replays the
    # first, nothing moves twice; from a page opened later (another key): refused, decided
    fields = {**form_fields(pending, f"/purchase-requests/{rid}/confirm"), "comment": "合同已核"}
    for _ in range(2):
        r = li.client.post(f"/purchase-requests/{rid}/confirm", data=fields, headers=HTML,
                           follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        assert (_active(web.engine, "HOLD-L1"), _active(web.engine, "BUYER")) == (760, 110)
    later = li.client.post(f"/purchase-requests/{rid}/confirm", headers=HTML,
                           data={**fields, "form_key": "another-page"})  # fmt: skip
    assert later.status_code == 409 and "已确认" in later.text
    assert (_active(web.engine, "HOLD-L1"), _active(web.engine, "BUYER")) == (760, 110)

    mine = buyer.get("/account").text
    assert f'data-request="{rid}" data-status="confirmed"' in mine
    assert "CN-431123-L1-2026-000000201..000000240" in mine  # oldest first from 201
    assert _figure(mine, "BUYER", "active") == "110"

    # retire 25 for a beneficiary → the certificate's page; the form sent twice retires once
    shown = buyer.get("/account").text
    fields = form_fields(shown, "/account/retire")
    data = {**fields, "quantity": "25", "beneficiary": "某电力公司", "purpose": "2026 年度碳中和"}
    first = buyer.client.post("/account/retire", data=data, headers=HTML, follow_redirects=False)
    second = buyer.client.post("/account/retire", data=data, headers=HTML, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/certificates/RC-")
    assert second.headers["location"] == first.headers["location"]
    assert _active(web.engine, "BUYER") == 110 - 25
    assert _figure(buyer.get("/account").text, "BUYER", "retired") == str(30 + 25)
    assert _count(web.engine, "SELECT COUNT(*) FROM retirement") == 2


def test_a_buyer_cancels_and_the_bureau_rejects(web: Web) -> None:
    buyer, li = Person(web, "buyer"), Person(web, "li")
    for n in ("3", "4"):
        buyer.send("/purchase-requests/new?project=L1", "/purchase-requests", quantity=n)
    ids = re.findall(r'<tr id="purchase-(\d+)"', buyer.get("/account").text)
    newest, older = ids[0], ids[1]
    assert buyer.send("/account", f"/purchase-requests/{newest}/cancel").status_code == 303
    r = li.send("/account", f"/purchase-requests/{older}/reject", comment="")
    assert r.status_code == 422 and "comment" in r.text  # a rejection says why
    r = li.send("/account", f"/purchase-requests/{older}/reject", comment="价格未谈妥")
    assert r.status_code == 303
    page = buyer.get("/account").text
    assert f'data-request="{newest}" data-status="cancelled"' in page
    assert f'data-request="{older}" data-status="rejected"' in page and "价格未谈妥" in page
    assert _active(web.engine, "BUYER") == 70


def test_pledge_release_and_enforce(web: Web) -> None:
    buyer, banker = Person(web, "buyer"), Person(web, "banker")
    for loan in ("DK-1", "DK-2"):
        r = buyer.send("/account", "/account/pledge", bank_account="BANK", loan_ref=loan,
                       amount_yuan="50000", quantity="10")  # fmt: skip
        assert r.status_code == 303, r.text[:300]
    page = buyer.get("/account").text
    assert _figure(page, "BUYER", "active") == "50" and _figure(page, "BUYER", "pledged") == "20"
    held = banker.get("/account").text
    pledges = re.findall(r'<tr data-pledge="(\d+)">', held)
    assert len(pledges) == 2
    assert banker.send("/account", f"/account/pledges/{pledges[0]}/release").status_code == 303
    assert banker.send("/account", f"/account/pledges/{pledges[1]}/enforce").status_code == 303
    assert (_active(web.engine, "BUYER"), _active(web.engine, "BANK")) == (60, 10)
    # the buyer's users cannot release a pledge (the pledgee bank's users do)
    assert "/account/pledges/" not in buyer.get("/account").text


# -- the bureau's pages ------------------------------------------------------------------------


def test_a_broken_inventory_shows_its_per_record_report(web: Web, tmp_path: Path) -> None:
    li = Person(web, "li")
    frame = sample_frame(20, 32)
    frame.loc[5, "XIAO_BAN"] = frame.loc[4, "XIAO_BAN"]  # a duplicate stand key
    frame.loc[5, "LIN_BAN"] = frame.loc[4, "LIN_BAN"]
    data = write_gpkg(frame, tmp_path / "dup.gpkg").read_bytes()
    batches = _count(web.engine, "SELECT COUNT(*) FROM inventory_batch")
    r = li.send("/account/inventory", "/account/inventory", files={"file": ("dup.gpkg", data)},
                inventory_year="2031", scope="stands")  # fmt: skip
    assert r.status_code == 422
    assert "未导入" in r.text and 'id="report"' in r.text
    rows = re.findall(r'<tr class="sev-error" data-code="(\w+)" data-record="(\d*)">', r.text)
    # frame rows 4 and 5 (0-based) are the file's records 5 and 6: the report names the first
    # and lists both, in Chinese and in English
    assert rows == [("duplicate_key", "5")]
    assert "重复出现在第 [5, 6] 条记录" in r.text and "appears in records [5, 6]" in r.text
    assert _count(web.engine, "SELECT COUNT(*) FROM inventory_batch") == batches
    # a good file is imported and its figures shown
    good = write_gpkg(sample_frame(30, 33), tmp_path / "good.gpkg").read_bytes()
    r = li.send("/account/inventory", "/account/inventory", files={"file": ("good.gpkg", good)},
                inventory_year="2031", scope="stands")  # fmt: skip
    assert r.status_code == 200 and 'data-figure="n_records">30<' in r.text
    assert _count(web.engine, "SELECT COUNT(*) FROM inventory_batch") == batches + 1
    # not for buyers
    assert Person(web, "buyer").get("/account/inventory").status_code == 403


def _free_keys(engine: Engine, n: int) -> list[str]:
    """Current stands in no project (the map selection's keys)."""
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT stand_key FROM stand WHERE is_current AND species_group = 'chinese_fir' "
            "AND stand_key NOT IN (SELECT stand_key FROM project_stand WHERE active) "
            "ORDER BY stand_key LIMIT :n"), {"n": n})  # fmt: skip
        return [str(r[0]) for r in rows]


def test_projects_from_filters_and_from_a_map_selection(web: Web) -> None:
    li = Person(web, "li")
    keys = _free_keys(web.engine, 3)
    assert len(keys) == 3
    base = {"name": "杉木经营", "methodology": "AR-CM-003-V01", "developer": "双牌县林业局",
            "start_date": "2026-01-01", "crediting_years": "30"}  # fmt: skip
    r = li.send("/account/projects/new", "/account/projects/new", code="P-MAP",
                stand_keys="\n".join(keys), **base)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/projects/P-MAP"
    with read_scope(web.engine) as s:
        assert project_summary(s, "P-MAP").stands == 3
    r = li.send("/account/projects/new", "/account/projects/new", code="P-FILTER",
                filters="species_group=chinese_fir", **base)  # fmt: skip
    assert r.status_code == 409 and "P-MAP" in r.text  # its stands overlap P-MAP's three
    assert _count(web.engine, "SELECT COUNT(*) FROM project WHERE code = 'P-FILTER'") == 0
    r = li.send("/account/projects/new", "/account/projects/new", code="P-FILTER",
                filters="species_group=masson_pine", **base)  # fmt: skip
    assert r.status_code == 303
    n_pine = _count(
        web.engine, "SELECT COUNT(*) FROM stand WHERE is_current AND species_group = 'masson_pine'"
    )
    with read_scope(web.engine) as s:
        assert project_summary(s, "P-FILTER").stands == n_pine > 0
    # nothing selected, a file named, a buyer: refused, no draft left behind
    for fields, status in (
        ({"code": "P-X"}, 422),
        ({"code": "P-Y", "filters": "@/etc/passwd"}, 422),
    ):
        r = li.send("/account/projects/new", "/account/projects/new", **{**base, **fields})
        assert r.status_code == status, r.text[:300]
    assert _count(web.engine, "SELECT COUNT(*) FROM project WHERE code IN ('P-X', 'P-Y')") == 0
    assert Person(web, "buyer").get("/account/projects/new").status_code == 403


def _draft_registry(engine: Engine, folder: Path) -> None:
    public_registry(engine, folder)
    draft(engine, "P2", "AR-CM-003-V01", "species_group=chinese_fir", name="杉木经营项目")


@pytest.fixture
def drafted(scenario: Callable[..., Engine], db_url: str, tmp_path: Path) -> Iterator[Web]:
    """The web registry with a forest-management project in draft (P2, with its evidence)."""
    engine = scenario("web-draft", _draft_registry)
    settings = Settings(database_url=db_url, tiles_dir=tmp_path / "tiles")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Web(engine, db_url, client, read_tokens(engine))


def test_lifecycle_actions_with_comments(drafted: Web) -> None:
    web = drafted
    with read_scope(web.engine) as s:
        if project_summary(s, "P2").stands == 0:
            pytest.fail("the draft has no eligible stand")
    steps = (("li", "submit", "提交审定，证据齐全"), ("auditor", "validate", "审定意见：符合方法学"),
             ("director", "register", "准予登记"))  # fmt: skip
    buyer = Person(web, "buyer")
    for user, action, comment in steps:
        if action == "validate":  # submitted: a buyer may not validate — a page, nothing changes
            r = buyer.client.post("/projects/P2/actions/validate", headers=HTML,
                                  data={"csrf_token": _token(buyer), "comment": "x"})  # fmt: skip
            assert r.status_code == 403 and "Traceback" not in r.text
            assert "无权" in r.text and "may not" in r.text
        person = Person(web, user)
        r = person.client.post(f"/projects/P2/actions/{action}", headers=HTML, follow_redirects=False,
                               data={"csrf_token": _token(person), "comment": comment})  # fmt: skip
        assert r.status_code == 303, (user, action, r.text[:400])
        assert r.headers["location"] == "/projects/P2#actions"
    with read_scope(web.engine) as s:
        summary = project_summary(s, "P2")
    assert summary.status == "registered"
    done = [
        (h.action, h.comment, h.actor)
        for h in summary.history
        if h.action in ("submit", "validate", "register")
    ]
    assert [(a, c) for a, c, _ in done] == [(a, c) for _, a, c in steps]
    assert [who.split("@")[0] for _, _, who in done] == ["li", "auditor", "director"]


def _token(person: Person) -> str:
    """The session's CSRF token, as the account page's forms carry it."""
    return form_fields(person.get("/account").text, "/logout")["csrf_token"]
