"""Valuation over HTTP (both engines): prices recorded by bureau staff only, a project valued
per scenario (figures worked by hand), a bank's loan-to-value of its own pledges; refusals carry
both languages and change nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from registry.db import session_scope
from registry.issuance import issue
from registry.ledger import pledge
from tests.api.conftest import Api
from tests.registry.ledger_fixtures import ADMIN, STAFF

V1 = "/api/v1/compensation"
PRICE = {"name": "CCER", "market": "CCER", "price_yuan": "80", "price_date": "2026-01-01",
         "source": "测试 / a test's price", "label_premiums": {"BIO": "10"}}  # fmt: skip


def _keyed(api: Api, user: str, key: str) -> dict[str, str]:
    return {**api.auth(user), "Idempotency-Key": key}


def _prices(api: Api) -> int:
    with api.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM price_scenario")).scalar_one())


def test_prices_values_and_loans(api: Api) -> None:
    r = api.client.post(f"{V1}/prices", json=PRICE, headers=_keyed(api, "li", "k-1"))
    assert r.status_code == 201, r.text
    assert (r.json()["price_yuan"], r.json()["status"], r.json()["replayed"]) == (
        "80.00", "unverified", False)  # fmt: skip
    again = api.client.post(f"{V1}/prices", json=PRICE, headers=_keyed(api, "li", "k-1"))
    assert again.json() == {**r.json(), "replayed": True} and _prices(api) == 1  # a retry
    other = api.client.post(f"{V1}/prices", json={**PRICE, "price_yuan": "81"},
                            headers=_keyed(api, "li", "k-1"))  # fmt: skip
    assert other.status_code == 409 and _prices(api) == 1  # the key with another request
    listed = api.client.get(f"{V1}/prices", headers=api.auth("buyer"))
    assert listed.status_code == 200 and [p["name"] for p in listed.json()] == ["CCER"]
    # L1: 1000.5 t verified × 80 = 80040.00 (nothing issued yet in this registry)
    v = api.client.get(f"{V1}/value", params={"project": "L1", "scenario": "CCER", "rate": "0.05",
                                              "per_mu": "30", "premium": ["BIO=12", "WATER=5"]},
                       headers=api.auth("owner"))  # fmt: skip
    assert v.status_code == 200, v.text
    s = v.json()["scenarios"][0]
    assert (s["verified_value_yuan"], s["issued_value_yuan"], s["per_mu_standard_yuan"]) == (
        "80040.00", "0.00", "30.00")  # fmt: skip
    assert any("unverified" in u for u in v.json()["unverified"])  # the price's source
    assert s["label_premium_yuan"] == "0.00"  # no credit carries a label (none issued yet)
    with session_scope(api.engine) as db:
        issue(db, ADMIN, "L1", "api-issue", minimum_pct=10)
        pledge(db, STAFF, "api-p", "HOLD-L1", "BANK", "DK-API", Decimal("6000.00"), quantity=100)
    # 100 × 80 = 8000.00; 6000 / 8000 = 0.75 > 0.7 (the default threshold)
    loans = api.client.get(f"{V1}/loans", params={"scenario": "CCER"}, headers=api.auth("banker"))
    assert loans.status_code == 200, loans.text
    [line] = loans.json()["loans"]
    assert (line["value_yuan"], line["ltv"], line["over_threshold"]) == ("8000.00", "0.7500", True)


def test_refusals_change_nothing(api: Api) -> None:
    assert (
        api.client.post(f"{V1}/prices", json=PRICE, headers=_keyed(api, "li", "a")).status_code
        == 201
    )
    before = _prices(api)
    for user, body, status in (("buyer", PRICE, 403), ("banker", PRICE, 403),
                               ("li", {**PRICE, "price_yuan": "-80"}, 422)):  # fmt: skip
        r = api.client.post(f"{V1}/prices", json=body, headers=_keyed(api, user, "b"))
        assert r.status_code == status, r.text
        assert r.json()["message_zh"] and r.json()["message_en"]
    assert _prices(api) == before
    unknown = api.client.get(f"{V1}/value", params={"project": "NOPE"}, headers=api.auth("li"))
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["message_en"]
    bad = api.client.get(f"{V1}/value", params={"project": "L1", "premium": "BIO"},
                         headers=api.auth("li"))  # fmt: skip
    assert bad.status_code == 422 and "CODE=PCT" in bad.json()["message_en"]
    rate = api.client.get(f"{V1}/value", params={"project": "L1", "rate": "-1"},
                          headers=api.auth("li"))  # fmt: skip
    assert rate.status_code == 422 and "−100 %" in rate.json()["message_en"]
    assert api.client.get(f"{V1}/loans", params={"scenario": "CCER"},
                          headers=api.auth("buyer")).status_code == 403  # fmt: skip
    assert api.client.get(f"{V1}/prices").status_code == 401  # not signed in
