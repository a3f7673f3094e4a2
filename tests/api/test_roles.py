"""Every endpoint × every role, allowed or refused, from ONE table (both engines).

A row: the request (method, path, body — each may depend on the user, so every allowed user
acts on its own things) and the users allowed. Refused users get 403 and change nothing; each
allowed user succeeds (2xx). Rows run in order: the ledger rows build on one another (L1 is
issued, then moved). No credentials: 401 on every endpoint but the public certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from tests.api.conftest import Api
from tests.registry.user_fixtures import PASSWORD, USERS

ALL = frozenset(USERS)
STAFF = frozenset({"director", "li"})
Body = Callable[[str, dict[str, Any]], dict[str, Any] | None]
Path = Callable[[str, dict[str, Any]], str]


def _const(value: Any) -> Callable[[str, dict[str, Any]], Any]:
    return lambda _u, _c: value


# (name, method, path, body, allowed users). Bodies and paths get (user, context).
TABLE: list[tuple[str, str, Path, Body, frozenset[str]]] = [
    ("who am I", "GET", _const("/auth/me"), _const(None), ALL),
    ("list users", "GET", _const("/users"), _const(None), ALL),
    ("add a user", "POST", _const("/users"),
     lambda u, _: {"username": f"new-{u}", "organisation": "双牌县林业局", "roles": ["buyer"],
                   "password": PASSWORD}, frozenset({"director"})),
    ("set roles", "PUT", _const("/users/owner/roles"), _const({"roles": ["forest_owner"]}),
     frozenset({"director"})),
    ("list organisations", "GET", _const("/organisations"), _const(None), ALL),
    ("register an organisation", "POST", _const("/organisations"),
     lambda u, _: {"name": f"新机构 {u}"}, STAFF),
    ("register a bank (a kind)", "POST", _const("/organisations"),
     lambda u, _: {"name": f"新银行 {u}", "kind": "bank"}, frozenset({"director"})),
    ("grant a kind", "POST", _const("/organisations/某电力公司/grant"), _const({"kind": "buyer"}),
     frozenset({"director"})),
    ("open an account", "POST", _const("/credits/accounts"),
     lambda u, _: {"code": f"ACC-{u}", "name": "账户", "holder": "某电力公司"}, STAFF),
    ("issue", "POST", _const("/credits/issue"), _const({"project": "L1"}),
     frozenset({"director"})),
    ("transfer from the developer", "POST", _const("/credits/transfer"),
     _const({"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": 20}), STAFF),
    ("retire the buyer's", "POST", _const("/credits/retire"),
     _const({"account": "BUYER", "beneficiary": "某电力公司", "purpose": "碳中和", "quantity": 1}),
     frozenset({"buyer"})),
    ("pledge the buyer's", "POST", _const("/credits/pledge"),
     _const({"account": "BUYER", "bank_account": "BANK", "loan_ref": "DK-1", "amount_yuan": "1000",
             "quantity": 2}), frozenset({"buyer"})),
    ("release the pledge", "POST", lambda _u, c: f"/credits/pledges/{c['pledge']}/release",
     _const(None), frozenset({"banker"})),
    ("pledge again", "POST", _const("/credits/pledge"),
     _const({"account": "BUYER", "bank_account": "BANK", "loan_ref": "DK-2", "amount_yuan": "1000",
             "quantity": 2}), frozenset({"buyer"})),
    ("enforce the pledge", "POST", lambda _u, c: f"/credits/pledges/{c['pledge']}/enforce",
     _const(None), frozenset({"banker"})),
    ("cancel from the buffer", "POST", _const("/credits/cancel"),
     _const({"account": "BUFFER", "reason": "山火 fire", "quantity": 1}), frozenset({"director"})),
    ("cancel the buyer's", "POST", _const("/credits/cancel"),
     _const({"account": "BUYER", "reason": "采伐 felling", "quantity": 1}), frozenset({"buyer"})),
    ("the ledger's accounts", "GET", _const("/credits/accounts"), _const(None), ALL),
    ("the buyer's statement", "GET", _const("/credits/accounts/BUYER"), _const(None),
     STAFF | {"buyer"}),
    ("every block", "GET", _const("/credits/blocks"), _const(None), STAFF),
    ("a serial's history", "GET", _const("/credits/serials/CN-431123-L1-2026-000000500/history"),
     _const(None), ALL),
    ("the audit log", "GET", _const("/audit/events"), _const(None), STAFF | {"auditor"}),
    ("verify the audit chain", "GET", _const("/audit/verify"), _const(None), STAFF | {"auditor"}),
    ("stands", "GET", _const("/stands?limit=5"), _const(None), ALL),
    ("stands as GeoJSON", "GET", _const("/stands?limit=2&format=geojson"), _const(None), ALL),
    ("projects", "GET", _const("/projects"), _const(None), ALL),
    ("a project", "GET", _const("/projects/L1"), _const(None), ALL),
    ("create a project", "POST", _const("/projects"),
     lambda u, _: {"code": f"P-{u}", "name": "项目", "methodology": "AR-CM-005-V01",
                   "developer": "双牌县林业局", "start_date": "2026-01-01"}, STAFF),
    ("add stands to a draft", "POST", lambda u, _: f"/projects/P-{u}/stands",
     lambda u, _: {"selection": "species_group=" + ("chinese_fir" if u == "li" else "masson_pine")},
     STAFF),
    ("disable a user", "POST", _const("/users/owner/disable"), _const(None),
     frozenset({"director"})),
]  # fmt: skip
PUBLIC = ("/certificates/RC-2026-00000001",)


def _counts(api: Api) -> tuple[int, ...]:
    with api.engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in
                     ("audit_event", "ledger_operation", "app_user", "organisation", "project"))  # fmt: skip


def test_every_endpoint_for_every_role(api: Api) -> None:
    context: dict[str, Any] = {}
    for name, method, path, body, allowed in TABLE:
        # refused users first (the disabled-later owner among them): 403, nothing written
        for user in sorted(ALL - allowed):
            before = _counts(api)
            r = api.client.request(method, "/api/v1" + path(user, context),
                                   json=body(user, context), headers={**api.auth(user),
                                   "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert r.status_code == 403, (name, user, r.status_code, r.text)
            assert set(r.json()) == {"code", "message_zh", "message_en", "details"}
            assert _counts(api) == before, (name, user)
        for user in sorted(allowed):
            r = api.client.request(method, "/api/v1" + path(user, context),
                                   json=body(user, context), headers={**api.auth(user),
                                   "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert 200 <= r.status_code < 300, (name, user, r.status_code, r.text)
            if "pledge" in r.json():
                context["pledge"] = r.json()["pledge"]
    # the disabled owner's token no longer works anywhere
    assert api.client.get("/api/v1/auth/me", headers=api.auth("owner")).status_code == 401


def test_no_credentials_no_way_in(api: Api) -> None:
    for name, method, path, body, _ in TABLE:
        r = api.client.request(method, "/api/v1" + path("x", {"pledge": 1}), json=body("x", {}),
                               headers={"Idempotency-Key": "k"})  # fmt: skip
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["code"] == "unauthenticated"
    for path in PUBLIC:  # certificates are public; this one does not exist
        assert api.client.get("/api/v1" + path).status_code == 404
