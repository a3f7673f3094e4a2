"""Buyers' purchase requests (registry/purchases.py) through the REST API, on both engines:
request → confirm moves the credits once (by a ledger transfer, oldest serials first), reject
and cancel move nothing, a refusal writes nothing, idempotency keys, two staff confirming at
once, pages of requests, and the ledger's invariants, audit chain and replay intact afterwards.

The fixture (tests/web/web_fixtures.py): L1 issued 1,000 credits, serials 1–1000 of vintage
2026; the buffer pool took the first 100 (ceil(1000 × 10 %)), HOLD-L1 held 101–1000; 100 moved
to BUYER (101–200, oldest first) and 30 of those were retired (101–130). So before any test
HOLD-L1 holds 900 − 100 = 800 active credits (201–1000) and BUYER 100 − 30 = 70 (131–200)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.audit import verify_chain
from registry.db import grant_application_role, make_engine, read_scope, session_scope
from registry.errors import PurchaseClosed
from registry.ledger import balance, check_invariants
from registry.ledger.replay import replay
from registry.organisations import grant_kind, register_organisation
from registry.purchases import confirm_purchase, request_purchase
from registry.users import add_user, load_actor, parse_roles
from tests.registry.user_fixtures import PASSWORD
from tests.web.conftest import Web

API = "/api/v1/purchase-requests"
HOLD_BEFORE, BUYER_BEFORE = 800, 70
SERIAL = "CN-431123-L1-2026-"
EXTRA_TOKENS: dict[tuple[str, str], str] = {}  # users a test adds (the scenario's tokens stay)


def _add_user(web: Web, username: str, organisation: str) -> None:
    """A buyer of ``organisation`` (registered as a buyer if new) with a token."""
    from registry.users import issue_secret

    with session_scope(web.engine) as s:
        admin = load_actor(s, "director")
        if organisation != "某电力公司":
            register_organisation(s, admin, organisation)
            grant_kind(s, admin, organisation, "buyer")
        add_user(s, admin, username, organisation, parse_roles("buyer"), PASSWORD)
    with session_scope(web.engine) as s:
        _, EXTRA_TOKENS[(web.db_url, username)] = issue_secret(
            s, load_actor(s, username), "api_token", "t", None
        )


def _h(web: Web, user: str, key: str | None = None) -> dict[str, str]:
    token = EXTRA_TOKENS.get((web.db_url, user)) or web.tokens[user]
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _active(engine: Engine, account: str) -> int:
    with read_scope(engine) as s:
        return balance(s, account)["active"]


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in
                     ("purchase_request", "audit_event", "ledger_operation", "request_key"))  # fmt: skip


def _request(web: Web, quantity: int, key: str, user: str = "buyer", **extra: Any) -> Any:
    body = {"project": "L1", "buyer_account": "BUYER", "quantity": quantity, **extra}
    return web.client.post(API, json=body, headers=_h(web, user, key))


def _intact(engine: Engine) -> None:
    with read_scope(engine) as s:
        assert verify_chain(s).ok
        assert check_invariants(s) == []
        assert replay(s).ok, replay(s).differences


def test_request_then_confirm_moves_the_credits_once(web: Web) -> None:
    before = _counts(web.engine)
    r = _request(web, 40, "ask-1", note="2026 年度采购")
    assert r.status_code == 201, r.text
    asked = r.json()
    assert asked["status"] == "requested" and asked["quantity"] == 40
    assert asked["buyer"] == "某电力公司" and asked["requested_by"] == "buyer@某电力公司"
    assert asked["serials"] == [] and asked["replayed"] is False
    # asking moves nothing
    assert (_active(web.engine, "HOLD-L1"), _active(web.engine, "BUYER")) == (
        HOLD_BEFORE,
        BUYER_BEFORE,
    )

    r = web.client.post(f"{API}/{asked['id']}/confirm", json={"comment": "合同已签"},
                        headers=_h(web, "li", "confirm-1"))  # fmt: skip
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "confirmed" and done["decided_by"] == "li@双牌县林业局"
    # oldest first from HOLD-L1 (201–1000): 201–240
    assert done["serials"] == [f"{SERIAL}000000201..000000240"]
    assert _active(web.engine, "HOLD-L1") == HOLD_BEFORE - 40 == 760
    assert _active(web.engine, "BUYER") == BUYER_BEFORE + 40 == 110

    # a double click: the same key gives the first result back; another key is refused
    again = web.client.post(f"{API}/{asked['id']}/confirm", json={"comment": "合同已签"},
                            headers=_h(web, "li", "confirm-1"))  # fmt: skip
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["serials"] == done["serials"]
    other = web.client.post(f"{API}/{asked['id']}/confirm", headers=_h(web, "director", "c-2"))
    assert other.status_code == 409 and "已确认" in other.json()["message_zh"]
    assert _active(web.engine, "BUYER") == 110
    # one request row; three events (requested, the ledger's transfer, confirmed); one transfer
    # (key purchase-<id>); two request keys (the request's and the confirmation's)
    assert _counts(web.engine) == tuple(a + b for a, b in zip(before, (1, 3, 1, 2), strict=True))
    with web.engine.connect() as c:
        events = [r[0] for r in c.execute(text(
            "SELECT action FROM audit_event WHERE entity_type = 'purchase_request' ORDER BY id"))]  # fmt: skip
        keys = [r[0] for r in c.execute(text(
            "SELECT idempotency_key FROM ledger_operation WHERE kind = 'transfer' ORDER BY id"))]  # fmt: skip
    assert events == ["purchase.requested", "purchase.confirmed"]
    assert keys[-1] == f"purchase-{asked['id']}"
    _intact(web.engine)


def test_two_staff_confirming_at_once_move_the_credits_once(web: Web) -> None:
    r = _request(web, 25, "ask-race")
    request_id = r.json()["id"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def confirm(user: str) -> None:
        barrier.wait()
        try:
            with session_scope(web.engine) as s:
                confirm_purchase(s, load_actor(s, user), request_id, "", None)
            outcomes.append("confirmed")
        except PurchaseClosed:
            outcomes.append("closed")

    threads = [threading.Thread(target=confirm, args=(u,)) for u in ("li", "director")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["closed", "confirmed"]
    assert _active(web.engine, "BUYER") == BUYER_BEFORE + 25
    assert _active(web.engine, "HOLD-L1") == HOLD_BEFORE - 25
    _intact(web.engine)


def test_reject_and_cancel_move_nothing(web: Web) -> None:
    first = _request(web, 10, "ask-r").json()["id"]
    second = _request(web, 10, "ask-c").json()["id"]
    # a rejection says why
    no_reason = web.client.post(f"{API}/{first}/reject", json={"comment": ""},
                                headers=_h(web, "li", "rej-0"))  # fmt: skip
    assert no_reason.status_code == 422
    r = web.client.post(f"{API}/{first}/reject", json={"comment": "价格未谈妥 / no price agreed"},
                        headers=_h(web, "li", "rej-1"))  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["decision_comment"] == "价格未谈妥 / no price agreed"
    # the buyer cancels its own; staff cannot cancel for it (not a buyer)
    assert (
        web.client.post(f"{API}/{second}/cancel", headers=_h(web, "li", "can-0")).status_code == 403
    )
    r = web.client.post(f"{API}/{second}/cancel", headers=_h(web, "buyer", "can-1"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # a decided request is decided once
    for rid, user, action in ((first, "li", "confirm"), (second, "li", "confirm"),
                              (first, "buyer", "cancel")):  # fmt: skip
        r = web.client.post(f"{API}/{rid}/{action}", headers=_h(web, user, f"late-{rid}-{action}"))
        assert r.status_code == 409, (rid, action, r.text)
    assert (_active(web.engine, "HOLD-L1"), _active(web.engine, "BUYER")) == (
        HOLD_BEFORE,
        BUYER_BEFORE,
    )
    _intact(web.engine)


def test_refusals_write_nothing(web: Web) -> None:
    _add_user(web, "buyer2", "另一家公司")  # a buyer of another organisation
    before = _counts(web.engine)
    unknown_project = {"project": "NOPE", "buyer_account": "BUYER", "quantity": 1}
    unknown_account = {"project": "L1", "buyer_account": "NOPE", "quantity": 1}
    fine = {"project": "L1", "buyer_account": "BUYER", "quantity": 1}
    cases = {
        "another organisation's account": (_request(web, 5, "x1", "buyer2"), 403),
        "a bank's user": (_request(web, 5, "x2", "banker"), 403),
        "staff cannot ask": (_request(web, 5, "x3", "li"), 403),
        "more than is for sale": (_request(web, HOLD_BEFORE + 1, "x4"), 409),
        "an unknown project": (web.client.post(API, json=unknown_project, headers=_h(web, "buyer", "x5")), 404),
        "an unknown account": (web.client.post(API, json=unknown_account, headers=_h(web, "buyer", "x6")), 404),
        "no credits": (_request(web, 0, "x7"), 422),
        "no idempotency key": (web.client.post(API, json=fine, headers=_h(web, "buyer")), 422),
        "an unknown request": (web.client.post(f"{API}/999999/confirm", headers=_h(web, "li", "x8")), 404),
        "no sign-in": (web.client.post(API, json=fine, headers={"Idempotency-Key": "x9"}), 401),
    }  # fmt: skip
    for case, (r, status) in cases.items():
        assert r.status_code == status, (case, r.status_code, r.text)
        assert set(r.json()) == {"code", "message_zh", "message_en", "details"}, case
    assert "800" in cases["more than is for sale"][0].json()["message_en"]
    assert _counts(web.engine) == before
    # a confirmation the ledger refuses leaves the request as it was: two requests of 700 each
    # fit what is for sale (800) one at a time, not both
    a = _request(web, 700, "big-1").json()["id"]
    b = _request(web, 700, "big-2").json()["id"]
    assert web.client.post(f"{API}/{a}/confirm", headers=_h(web, "li", "ok-a")).status_code == 200
    mid = _counts(web.engine)
    r = web.client.post(f"{API}/{b}/confirm", headers=_h(web, "li", "ok-b"))
    assert r.status_code == 409, r.text
    assert _counts(web.engine) == mid
    assert web.client.get(f"{API}/{b}", headers=_h(web, "li")).json()["status"] == "requested"
    assert _active(web.engine, "HOLD-L1") == HOLD_BEFORE - 700 == 100
    _intact(web.engine)


def test_idempotency_keys_of_requests(web: Web) -> None:
    before = _counts(web.engine)
    first = _request(web, 3, "same-key")
    again = _request(web, 3, "same-key")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["replayed"] is True and again.json()["id"] == first.json()["id"]
    other = _request(web, 4, "same-key")
    assert other.status_code == 409 and other.json()["code"] == "conflict"
    assert _counts(web.engine)[0] == before[0] + 1
    # keys are per user: another user's same key is its own
    _add_user(web, "buyer-b", "某电力公司")
    mine = _request(web, 3, "same-key", "buyer-b")
    assert mine.status_code == 201 and mine.json()["replayed"] is False
    assert mine.json()["id"] != first.json()["id"]


def test_pages_of_requests_by_reader(web: Web) -> None:
    ids = [_request(web, 1, f"p-{i}").json()["id"] for i in range(5)]
    staff = web.client.get(f"{API}?limit=2&offset=1", headers=_h(web, "li")).json()
    assert staff["total"] == 5 and staff["limit"] == 2 and staff["offset"] == 1
    assert [i["id"] for i in staff["items"]] == [ids[3], ids[2]]  # newest first
    assert web.client.get(API, headers=_h(web, "buyer")).json()["total"] == 5
    assert web.client.get(API, headers=_h(web, "banker")).json()["total"] == 0
    assert web.client.get(f"{API}/{ids[0]}", headers=_h(web, "banker")).status_code == 403
    web.client.post(f"{API}/{ids[0]}/cancel", headers=_h(web, "buyer", "pc"))
    assert web.client.get(f"{API}?status=requested", headers=_h(web, "li")).json()["total"] == 4
    assert web.client.get(f"{API}?status=cancelled", headers=_h(web, "buyer")).json()["total"] == 1
    assert web.client.get(f"{API}?status=evil", headers=_h(web, "li")).status_code == 422


def test_purchases_work_as_the_application_role(web: Web) -> None:
    """PostgreSQL: the application's role (granted by ``grant_application_role``) asks and
    confirms; it cannot rewrite the request a key was first used for (only its result)."""
    if not web.db_url.startswith("postgresql"):
        pytest.skip("application roles are PostgreSQL's (a SpatiaLite file has none)")
    role = f"app_{web.db_url.rsplit('/', 1)[1]}"
    with web.engine.begin() as c:
        c.execute(text(f"CREATE ROLE {role} LOGIN"))
    grant_application_role(web.engine, role)
    app = make_engine(web.db_url.replace("tanhui@", f"{role}@"))
    try:
        with session_scope(app) as s:
            asked = request_purchase(s, load_actor(s, "buyer"), "L1", "BUYER", 7, "", "as-app")
        with session_scope(app) as s:
            done = confirm_purchase(s, load_actor(s, "li"), asked.id, "", "as-app-c")
        assert done.status == "confirmed" and done.serials == (f"{SERIAL}000000201..000000207",)
        for sql in ("UPDATE request_key SET request_json = '{}'", "DELETE FROM request_key"):
            with pytest.raises(DBAPIError, match="permission denied"), app.begin() as c:
                c.execute(text(sql))
    finally:
        app.dispose()
        with web.engine.begin() as c:
            c.execute(text(f"DROP OWNED BY {role}"))
            c.execute(text(f"DROP ROLE {role}"))
    _intact(web.engine)
