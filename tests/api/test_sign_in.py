"""Sign-in and its guards: throttling, CSRF, disabled users, revoked tokens, and no password,
hash or secret ever in a response or the audit log."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from registry.errors import Failure
from registry.settings import Settings
from tests.api.conftest import Api
from tests.registry.user_fixtures import PASSWORD


def _login(api: Api, user: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    r = api.client.post("/api/v1/auth/login", json={"username": user, "password": password})
    return r.status_code, r.json()


def _from(api: Api, address: str) -> TestClient:
    """A client of the same running app, calling from another address (the app's lifespan,
    entered once by the fixture, is not run again)."""
    return TestClient(api.client.app, client=(address, 50000))


def test_login_is_throttled_per_user_and_address_in_the_database(api: Api) -> None:
    for _ in range(5):  # Settings.login_max_failures = 5 within 15 minutes
        assert _login(api, "buyer", "wrong password!")[0] == 401
    status, body = _login(api, "buyer")  # the right password, but too many failures from here
    assert status == 429 and body["code"] == "throttled"
    assert "this address" in body["message_en"]
    assert _login(api, "banker")[0] == 200  # another user is not affected
    with api.engine.connect() as c:  # stored: every worker of the server sees the same count
        n = c.execute(text("SELECT COUNT(*), MIN(client), MAX(client) FROM login_failure "
                           "WHERE username = 'buyer'")).one()  # fmt: skip
        assert tuple(n) == (5, "testclient", "testclient")  # the refused sixth is not counted
    # the user, from its own address, is not locked out by the stranger's failures
    own = _from(api, "203.0.113.7")
    r = own.post("/api/v1/auth/login", json={"username": "buyer", "password": PASSWORD})
    assert r.status_code == 200, r.text
    # an unknown user is refused like a wrong password (nothing told apart)
    status, body = _login(api, "nobody", "whatever at all")
    assert status == 401 and body["message_en"] == _login(api, "buyer-x", "y")[1]["message_en"]


def test_a_guesser_spread_over_many_addresses_meets_the_ceiling(api: Api) -> None:
    """Settings.login_max_failures_per_user = 50: ten addresses of five wrong passwords each
    (each address throttled after its fifth) reach it; then every address is refused, even
    with the right password, until the window has passed."""
    for i in range(10):
        guesser = _from(api, f"198.51.100.{i}")
        codes = [guesser.post("/api/v1/auth/login", json={"username": "buyer",
                              "password": f"guess {i}-{k}"}).status_code for k in range(6)]  # fmt: skip
        assert codes == [401] * 5 + [429], (i, codes)  # five counted, the sixth refused
    with api.engine.connect() as c:
        n = c.execute(text("SELECT COUNT(*), COUNT(DISTINCT client) FROM login_failure "
                           "WHERE username = 'buyer'")).one()  # fmt: skip
    assert tuple(n) == (10 * 5, 10)
    own = _from(api, "203.0.113.7")  # a fresh address
    r = own.post("/api/v1/auth/login", json={"username": "buyer", "password": PASSWORD})
    assert r.status_code == 429 and "many addresses" in r.json()["message_en"]
    assert _login(api, "banker")[0] == 200  # only the attacked user


def test_a_session_cookie_needs_its_csrf_token_to_change_anything(api: Api) -> None:
    status, body = _login(api, "director")
    assert status == 200 and "tanhui_session" in api.client.cookies
    csrf = str(body["csrf_token"])
    assert api.client.get("/api/v1/auth/me").json()["username"] == "director"  # reads: no token
    new_org = {"name": "跨站请求伪造测试"}
    refused = api.client.post("/api/v1/organisations", json=new_org)  # a forged form post
    assert refused.status_code == 403 and "CSRF" in refused.json()["message_en"]
    wrong = api.client.post(
        "/api/v1/organisations", json=new_org, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403
    done = api.client.post("/api/v1/organisations", json=new_org, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text
    # sign out: the session is revoked in the database, the cookie no longer works
    cookie = api.client.cookies["tanhui_session"]
    assert api.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.client.cookies.set("tanhui_session", cookie)
    assert api.client.get("/api/v1/auth/me").status_code == 401


def test_disabled_users_and_revoked_tokens_are_refused(api: Api) -> None:
    admin = api.auth("director")
    assert api.client.get("/api/v1/auth/me", headers=api.auth("buyer")).status_code == 200
    assert api.client.post("/api/v1/users/buyer/disable", headers=admin).status_code == 200
    assert api.client.get("/api/v1/auth/me", headers=api.auth("buyer")).status_code == 401
    assert _login(api, "buyer")[0] == 401  # nor can it sign in
    made = api.client.post("/api/v1/auth/tokens", json={"name": "机器"}, headers=api.auth("li"))
    assert made.status_code == 201
    token = made.json()["token"]
    machine = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/auth/me", headers=machine).json()["username"] == "li"
    revoked = api.client.delete(f"/api/v1/auth/tokens/{made.json()['id']}", headers=api.auth("li"))
    assert revoked.status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=machine).status_code == 401
    # the last admin cannot be disabled (the registry would have no one to run it)
    last = api.client.post("/api/v1/users/director/disable", headers=admin)
    assert last.status_code == 409


def test_no_password_hash_or_secret_in_any_response_or_the_audit_log(api: Api) -> None:
    admin = api.auth("director")
    seen: list[str] = []
    bodies: list[str] = []
    for request in (
        lambda: api.client.post("/api/v1/users", headers=admin, json={
            "username": "newbie", "organisation": "某电力公司", "roles": ["buyer"],
            "password": "a new secret password"}),
        lambda: api.client.post("/api/v1/users/newbie/password", headers=admin,
                                json={"password": "another secret password"}),
        lambda: api.client.post("/api/v1/auth/login", json={"username": "newbie",
                                                             "password": "another secret password"}),
        lambda: api.client.post("/api/v1/auth/tokens", json={"name": "x"}, headers=admin),
        lambda: api.client.get("/api/v1/users?limit=100", headers=admin),
        lambda: api.client.get("/api/v1/auth/me", headers=admin),
        lambda: api.client.get("/api/v1/audit/events?limit=500", headers=admin),
    ):  # fmt: skip
        r = request()
        assert r.status_code < 300, r.text
        bodies.append(r.text)
        seen.append(r.text + json.dumps(dict(r.headers)))
    with api.engine.connect() as c:
        audit = "\n".join(str(tuple(r)) for r in c.execute(text("SELECT * FROM audit_event")))
        hashes = [str(r[0]) for r in c.execute(text("SELECT password_hash FROM app_user WHERE password_hash IS NOT NULL"))]  # fmt: skip
        secrets = [str(r[0]) for r in c.execute(text("SELECT secret_hash FROM api_token UNION ALL SELECT secret_hash FROM web_session"))]  # fmt: skip
    token = json.loads(bodies[3])["token"]
    everything = "\n".join(seen) + audit
    for needle in (
        "a new secret password",
        "another secret password",
        PASSWORD,
        "$argon2",
        *hashes,
        *secrets,
        hashlib.sha256(token.encode()).hexdigest(),
    ):
        assert needle not in everything, needle
    assert token not in audit and token not in "\n".join(seen[4:])  # shown once, in its reply


def test_placeholder_secrets_are_refused_outside_development() -> None:
    with pytest.raises(Failure, match="placeholder"):
        create_app(Settings(environment="production"))
    create_app(Settings(environment="production", secret_key="x7" * 20))  # a real one will do


@pytest.mark.parametrize("change", ["reset the password", "disable the user"])
def test_a_reset_or_disabled_user_loses_every_token_and_session(api: Api, change: str) -> None:
    """A reset is what an admin does when a secret may have leaked: the user's API tokens and
    sessions end with it (not only the sessions), and so when the user is disabled."""
    status, _ = _login(api, "buyer")
    assert status == 200
    session_cookie = api.client.cookies["tanhui_session"]
    api.client.cookies.clear()
    made = api.client.post("/api/v1/auth/tokens", json={"name": "机器"}, headers=api.auth("buyer"))
    machine = {"Authorization": f"Bearer {made.json()['token']}"}
    for headers in (api.auth("buyer"), machine):
        assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    admin = api.auth("director")
    if change == "reset the password":
        r = api.client.post("/api/v1/users/buyer/password", headers=admin,
                            json={"password": "a brand new password"})  # fmt: skip
    else:
        r = api.client.post("/api/v1/users/buyer/disable", headers=admin)
    assert r.status_code == 200, r.text
    for headers in (api.auth("buyer"), machine):  # the scenario's token and the new one
        assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    api.client.cookies.set("tanhui_session", session_cookie)
    assert api.client.get("/api/v1/auth/me").status_code == 401
    api.client.cookies.clear()
    with api.engine.connect() as c:
        live = c.execute(text(
            "SELECT (SELECT COUNT(*) FROM api_token t JOIN app_user u ON u.id = t.user_id "
            "        WHERE u.username = 'buyer' AND t.revoked_at IS NULL), "
            "       (SELECT COUNT(*) FROM web_session s JOIN app_user u ON u.id = s.user_id "
            "        WHERE u.username = 'buyer' AND s.revoked_at IS NULL)")).one()  # fmt: skip
        payload = c.execute(text(
            "SELECT payload FROM audit_event WHERE entity_type = 'user' AND entity_id = 'buyer' "
            "ORDER BY id DESC LIMIT 1")).scalar_one()  # fmt: skip
    assert tuple(live) == (0, 0)
    # the scenario's token and the one made here; the one sign-in
    event = json.loads(payload)
    assert (event["api_tokens_revoked"], event["web_sessions_revoked"]) == (2, 1)
    if change == "reset the password":  # the user signs in again with the new password
        assert _login(api, "buyer", "a brand new password")[0] == 200
        assert _login(api, "buyer")[0] == 401  # the old one no longer works
