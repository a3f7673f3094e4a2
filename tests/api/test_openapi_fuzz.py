"""schemathesis against the API's own ``/openapi.json``: generated requests for every
operation (bounded examples, a fixed seed), as each role's user and with no credentials at all:
no response is a 5xx, and every refusal has the one error body.

The generated requests carry what the schema documents — random ``Authorization``,
``X-CSRF-Token`` and ``Idempotency-Key`` headers among them; the caller's own credentials
replace the generated ones (headers are case-insensitive), so each run reaches the routes as
that user. Multipart bodies (uploads) are sent as multipart, the way schemathesis encodes them.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import text

from registry.db import session_scope
from registry.users import issue_secret, load_actor
from tests.api.conftest import Api
from tests.registry.user_fixtures import USERS

EXAMPLES = 8  # per operation and caller: 8 × ~45 operations × 7 callers per engine
CALLERS = [*USERS, None]  # every role's user (admin, bureau staff, verifier, buyer, bank,
# forest owner) and no credentials
CREDENTIAL_HEADERS = {"authorization", "x-csrf-token", "idempotency-key", "cookie"}


def _request(case: schemathesis.Case, credentials: dict[str, str]) -> dict[str, Any]:
    """The generated request as keyword arguments of the test client: the schema's encoding
    (JSON, multipart) kept, the generated credentials replaced by the caller's."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in (sent.get("headers") or {}).items()
               if k.lower() not in CREDENTIAL_HEADERS}  # fmt: skip
    out: dict[str, Any] = {"method": sent["method"], "url": sent["url"],
                           "headers": {**headers, **credentials}, "params": sent.get("params")}  # fmt: skip
    if "json" in sent:
        out["json"] = sent["json"]
    if sent.get("files"):  # form fields as text, files as bytes (httpx takes nothing else)
        out["files"] = [
            (name, (filename, value if isinstance(value, bytes) else str(value).encode()))
            for name, (filename, value, *_) in sent["files"]
        ]
    if sent.get("data") is not None:
        out["data"] = sent["data"]
    return out


MAY_REVOKE = ("/auth/tokens/", "/password")
# what answers without credentials: the health check, a registered project's public documents
# (listed and downloaded: drafts and workbooks stay hidden), the check of a received file and
# the confirmed reversals (public facts)
PUBLIC_API = {"/health", "/api/v1/documents", "/api/v1/documents/{doc_id}",
              "/api/v1/documents/verify", "/api/v1/monitoring/reversals"}  # fmt: skip  # a generated request may end the caller's token


def _keep_signed_in(api: Api, caller: str, credentials: dict[str, str]) -> None:
    """A generated request may have revoked the caller's own token (an admin revokes any
    token by its id; a password reset revokes the user's): give the caller a new one, so the
    rest of the run still reaches the routes as that user."""
    if api.client.get("/api/v1/auth/me", headers=credentials).status_code != 401:
        return
    with session_scope(api.engine) as s:
        _, token = issue_secret(s, load_actor(s, caller), "api_token", "fuzz", None)
    credentials["Authorization"] = f"Bearer {token}"


def _fuzz(operation: Any, send: Any) -> None:
    """``send(case, key)`` for :data:`EXAMPLES` generated cases of ``operation`` (seeded)."""

    @seed(15)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(), key=st.text(min_size=1, max_size=8,
           alphabet="abcdefghijk0123456789"))  # fmt: skip
    def check(case: schemathesis.Case, key: str) -> None:
        send(case, key)

    check()


@pytest.mark.parametrize("caller", CALLERS, ids=[u or "anonymous" for u in CALLERS])
def test_no_generated_request_gets_a_server_error(api: Api, caller: str | None) -> None:
    spec = api.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40  # every route is documented
    credentials = api.auth(caller) if caller else {}
    failures: list[str] = []
    answered: dict[int, int] = {}
    refused_in: set[str] = set()  # operations that answered 401 to a caller
    succeeded_in: set[str] = set()  # operations that answered 2xx

    def send(case: schemathesis.Case, key: str) -> None:
        request = _request(case, {**credentials, "Idempotency-Key": key})
        r = api.client.request(**request)
        answered[r.status_code] = answered.get(r.status_code, 0) + 1
        if caller and r.status_code == 401:
            refused_in.add(case.operation.path)
        if 200 <= r.status_code < 300:
            succeeded_in.add(case.operation.path)
        if caller and any(m in request["url"] for m in MAY_REVOKE):
            _keep_signed_in(api, caller, credentials)
        if r.status_code >= 500:
            failures.append(
                f"{case.method} {request['url']} {request.get('json')!r}: {r.status_code}"
            )
        elif r.status_code >= 400:
            assert set(r.json()) == {"code", "message_zh", "message_en", "details"}, r.text

    for operation in operations:
        _fuzz(operation, send)
    assert not failures, "\n".join(failures[:8])
    if caller is None:  # without credentials only the public routes answer
        assert succeeded_in <= PUBLIC_API, succeeded_in
    else:  # the caller got through: 401 only for a wrong password, and some successes
        assert refused_in <= {"/api/v1/auth/login"}, refused_in
        assert succeeded_in - {"/health"}, answered


def test_what_the_generated_requests_found(api: Api) -> None:
    """Two server errors the per-role runs found, each now a refusal: a token id no integer
    column holds (the driver's overflow), and a NUL character in text (PostgreSQL cannot store
    it; SQLite would have) — refused alike on both engines, nothing written."""
    admin = api.auth("director")
    huge = api.client.delete(f"/api/v1/auth/tokens/{2**80}", headers=admin)
    assert huge.status_code == 404 and huge.json()["message_en"] == "no such token."
    with api.engine.connect() as c:
        before = c.execute(text("SELECT COUNT(*) FROM organisation")).scalar_one()
    nul = api.client.post("/api/v1/organisations", headers=admin, json={"name": "新\x00机构"})
    assert nul.status_code == 422 and "control characters" in nul.text
    with api.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM organisation")).scalar_one() == before
    # a NUL in a path reaches the database on neither engine as a server error
    shown = api.client.get("/api/v1/projects/L%001", headers=admin)
    assert shown.status_code in (404, 422), shown.text
