"""``Idempotency-Key`` on every request that moves credits: the same key and body return the
first result and move nothing more; the same key with another body is refused (409); a
request without a key is refused (422)."""

from __future__ import annotations

from tests.api.conftest import Api

MOVING = (
    ("/credits/issue", {"project": "L1"}),
    ("/credits/transfer", {"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": 3}),
    ("/credits/retire", {"account": "BUYER", "beneficiary": "b", "quantity": 1}),
    ("/credits/cancel", {"account": "BUFFER", "reason": "fire", "quantity": 1}),
    ("/credits/pledge", {"account": "BUYER", "bank_account": "BANK", "loan_ref": "L",
                         "amount_yuan": "1.00", "quantity": 1}),
    ("/credits/batch", {"csv": "kind,from,to,quantity\ntransfer,HOLD-L1,BUYER,1\n"}),
    ("/credits/pledges/1/release", None),
    ("/credits/pledges/1/enforce", None),
)  # fmt: skip


def test_every_moving_request_needs_a_key(api: Api) -> None:
    for path, body in MOVING:
        r = api.client.post("/api/v1" + path, json=body, headers=api.auth("director"))
        assert r.status_code == 422 and "idempotency-key" in r.text.lower(), (path, r.text)


def test_the_same_key_moves_once_and_another_body_is_refused(api: Api) -> None:
    admin, li = api.auth("director"), api.auth("li")
    issued = api.client.post("/api/v1/credits/issue", json={"project": "L1"},
                             headers={**admin, "Idempotency-Key": "i-1"})  # fmt: skip
    assert issued.status_code == 200 and not issued.json()["replayed"]
    body = {"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": 7}
    first = api.client.post(
        "/api/v1/credits/transfer", json=body, headers={**li, "Idempotency-Key": "t-1"}
    )
    again = api.client.post(
        "/api/v1/credits/transfer", json=body, headers={**li, "Idempotency-Key": "t-1"}
    )
    assert first.status_code == again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True} and not first.json()["replayed"]
    other = api.client.post("/api/v1/credits/transfer", json={**body, "quantity": 8},
                            headers={**li, "Idempotency-Key": "t-1"})  # fmt: skip
    assert other.status_code == 409 and other.json()["code"] == "conflict"
    balance = api.client.get("/api/v1/credits/accounts/BUYER", headers=li).json()["balance"]
    assert balance["active"] == 7  # moved once
    # another user's same key is its own request (keys are per user)
    director = api.client.post("/api/v1/credits/transfer", json=body,
                               headers={**admin, "Idempotency-Key": "t-1"})  # fmt: skip
    assert director.status_code == 200 and not director.json()["replayed"]
