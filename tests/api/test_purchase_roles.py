"""The purchase-request endpoints × every role, allowed or refused, from one table (both
engines), as tests/api/test_roles.py does for the rest of the API (kept apart so the two tables
can grow on their own).

The registry is the web scenario (L1 issued: 800 credits for sale in HOLD-L1). Each allowed
user decides its own request (made for it beforehand); a refused user tries the same request
and gets 403 with nothing changed — no row, status, event, operation or key written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import create_app
from registry.db import session_scope
from registry.purchases import request_purchase
from registry.settings import Settings
from registry.users import load_actor
from tests.api.api_fixtures import read_tokens
from tests.api.conftest import Api
from tests.registry.user_fixtures import USERS
from tests.web.web_fixtures import public_registry

ALL = frozenset(USERS)
STAFF = frozenset({"director", "li"})
BUYERS = frozenset({"buyer"})
Ids = dict[tuple[str, str], int]

# (name, method, path(user, ids), body, allowed users)
TABLE: list[tuple[str, str, Callable[[str, Ids], str], dict[str, Any] | None, frozenset[str]]] = [
    ("list requests", "GET", lambda u, i: "/purchase-requests", None, ALL),
    ("request credits", "POST", lambda u, i: "/purchase-requests",
     {"project": "L1", "buyer_account": "BUYER", "quantity": 5}, BUYERS),
    ("show a request", "GET", lambda u, i: f"/purchase-requests/{i['show', 'any']}", None,
     STAFF | BUYERS),
    ("confirm", "POST", lambda u, i: f"/purchase-requests/{i.get(('confirm', u), i['confirm', 'li'])}/confirm",
     {"comment": "好"}, STAFF),
    ("reject", "POST", lambda u, i: f"/purchase-requests/{i.get(('reject', u), i['reject', 'li'])}/reject",
     {"comment": "不行 / no"}, STAFF),
    ("cancel", "POST", lambda u, i: f"/purchase-requests/{i['cancel', 'buyer']}/cancel", None, BUYERS),
]  # fmt: skip


@pytest.fixture
def issued_api(scenario: Callable[..., Engine], db_url: str) -> Iterator[Api]:
    engine = scenario("web", public_registry)
    app = create_app(Settings(database_url=db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(engine, db_url, client, read_tokens(engine))


def _state(api: Api) -> tuple[Any, ...]:
    with api.engine.connect() as c:
        counts = tuple(int(c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in
                       ("purchase_request", "audit_event", "ledger_operation", "request_key"))  # fmt: skip
        statuses = tuple(c.execute(text("SELECT id, status FROM purchase_request ORDER BY id")))
    return counts, statuses


def _requests(api: Api) -> Ids:
    """One request for each allowed user of each decision (and one to show)."""
    wanted = [("show", "any"), ("cancel", "buyer")]
    wanted += [(action, u) for action in ("confirm", "reject") for u in sorted(STAFF)]
    ids: Ids = {}
    with session_scope(api.engine) as s:
        buyer = load_actor(s, "buyer")
        for n, key in enumerate(wanted):
            ids[key] = request_purchase(s, buyer, "L1", "BUYER", n + 1).id
    return ids


def test_every_purchase_endpoint_for_every_role(issued_api: Api) -> None:
    api = issued_api
    ids = _requests(api)
    for name, method, path, body, allowed in TABLE:
        for user in sorted(ALL - allowed):
            before = _state(api)
            r = api.client.request(method, "/api/v1" + path(user, ids), json=body,
                                   headers={**api.auth(user), "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert r.status_code == 403, (name, user, r.status_code, r.text)
            assert set(r.json()) == {"code", "message_zh", "message_en", "details"}
            assert _state(api) == before, (name, user)
        for user in sorted(allowed):
            r = api.client.request(method, "/api/v1" + path(user, ids), json=body,
                                   headers={**api.auth(user), "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert 200 <= r.status_code < 300, (name, user, r.status_code, r.text)
    with api.engine.connect() as c:
        decided = dict(c.execute(text("SELECT id, status FROM purchase_request")).all())
    assert {decided[ids["confirm", u]] for u in STAFF} == {"confirmed"}
    assert {decided[ids["reject", u]] for u in STAFF} == {"rejected"}
    assert decided[ids["cancel", "buyer"]] == "cancelled"


def test_no_credentials_no_way_in(issued_api: Api) -> None:
    ids = _requests(issued_api)
    for name, method, path, body, _ in TABLE:
        r = issued_api.client.request(method, "/api/v1" + path("li", ids), json=body,
                                      headers={"Idempotency-Key": "k"})  # fmt: skip
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["code"] == "unauthenticated"
