"""Who sees what: forest owners see their own stands, right holders' names only to staff,
verifiers and the owners themselves; accounts by organisation; and every audit event the API
writes names its user and organisation."""

from __future__ import annotations

from sqlalchemy import text

from registry.db import session_scope
from registry.organisations import grant_kind, register_organisation
from registry.users import add_user, issue_secret, load_actor
from registry.vocabulary import Role
from tests.api.conftest import Api


def test_a_forest_owner_sees_its_own_stands(api: Api) -> None:
    with api.engine.connect() as c:
        owner, mine = c.execute(text(
            "SELECT o.name, COUNT(*) FROM stand s JOIN owner o ON o.id = s.owner_id "
            "WHERE s.is_current GROUP BY o.name ORDER BY COUNT(*) DESC, o.name LIMIT 1")).one()  # fmt: skip
        everything = c.execute(text("SELECT COUNT(*) FROM stand WHERE is_current")).scalar_one()
    with session_scope(api.engine) as s:
        admin = load_actor(s, "director")
        register_organisation(s, admin, owner)
        grant_kind(s, admin, owner, "forest_owner")
        add_user(s, admin, "household", owner, frozenset({Role.FOREST_OWNER}))
        _, token = issue_secret(s, load_actor(s, "household"), "api_token", "t", None)
    own = api.client.get(
        "/api/v1/stands?limit=500", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert own["total"] == mine < everything
    assert {item["owner"] for item in own["items"]} == {owner}
    buyer = api.client.get("/api/v1/stands?limit=500", headers=api.auth("buyer")).json()
    assert buyer["total"] == everything and {i["owner"] for i in buyer["items"]} == {None}
    staff = api.client.get("/api/v1/stands?limit=500", headers=api.auth("li")).json()
    assert owner in {i["owner"] for i in staff["items"]}


def test_pages_are_capped_stable_and_counted(api: Api) -> None:
    li = api.auth("li")
    first = api.client.get("/api/v1/stands?limit=7&offset=0", headers=li).json()
    second = api.client.get("/api/v1/stands?limit=7&offset=7", headers=li).json()
    keys = [i["stand_key"] for i in first["items"] + second["items"]]
    assert keys == sorted(keys) and len(set(keys)) == 14 and first["total"] == second["total"]
    capped = api.client.get("/api/v1/stands?limit=10000", headers=li).json()
    assert capped["limit"] == 500  # Settings.page_limit_max
    geo = api.client.get("/api/v1/stands?limit=2&format=geojson", headers=li).json()
    assert (
        geo["type"] == "FeatureCollection"
        and geo["features"][0]["geometry"]["type"] == "MultiPolygon"
    )
    filtered = api.client.get(
        "/api/v1/stands?species_group=moso_bamboo&limit=500", headers=li
    ).json()
    assert filtered["total"] > 0 and {i["species_group"] for i in filtered["items"]} == {
        "moso_bamboo"
    }


def test_every_audit_event_of_the_api_names_its_user_and_organisation(api: Api) -> None:
    with api.engine.connect() as c:
        before = c.execute(text("SELECT MAX(id) FROM audit_event")).scalar_one()
    admin, li = api.auth("director"), api.auth("li")
    api.client.post(
        "/api/v1/credits/issue", json={"project": "L1"}, headers={**admin, "Idempotency-Key": "a"}
    )
    api.client.post("/api/v1/credits/transfer", headers={**li, "Idempotency-Key": "b"},
                    json={"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": 5})  # fmt: skip
    api.client.post("/api/v1/organisations", json={"name": "新机构"}, headers=li)
    with api.engine.connect() as c:
        actors = [
            str(r[0])
            for r in c.execute(text("SELECT actor FROM audit_event WHERE id > :b"), {"b": before})
        ]
    assert len(actors) >= 4  # the issue (with its accounts), the transfer, the organisation
    assert set(actors) <= {"director@双牌县林业局", "li@双牌县林业局"}, actors
