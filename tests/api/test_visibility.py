"""Who sees what: forest owners see their own stands, right holders' names only to staff,
verifiers and the owners themselves; accounts by organisation; and every audit event the API
writes names its user and organisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from registry.db import session_scope
from registry.organisations import grant_kind, register_organisation
from registry.users import add_user, issue_secret, load_actor
from registry.vocabulary import Role
from tests.api.conftest import Api
from tests.cli_runner import run_cli
from tests.registry.user_fixtures import USERS


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


def _household(api: Api) -> tuple[str, int, int]:
    """A forest owner's user ``household`` of the right holder with the most stands: (its
    organisation, its stands, every current stand)."""
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
        _, api.tokens["household"] = issue_secret(
            s, load_actor(s, "household"), "api_token", "t", None
        )
    return owner, int(mine), int(everything)


def test_a_forest_owner_lists_its_own_stands_on_the_command_line(api: Api, tmp_path: Path) -> None:
    owner, mine, everything = _household(api)
    env = {"TANHUI_DATABASE_URL": api.db_url}
    done = run_cli("--as", "household", "stands", "list", "--format", "json", "--limit", "500",
                   env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["total"] == mine < everything and len(listed["items"]) == min(mine, 500)
    assert {item["owner"] for item in listed["items"]} == {owner}
    table = run_cli("--as", "household", "stands", "list", env=env, cwd=tmp_path)
    assert table.returncode == 0 and f"/ {mine}" in table.stdout
    buyer = json.loads(run_cli("--as", "buyer", "stands", "list", "--format", "json", "--limit",
                               "500", env=env, cwd=tmp_path).stdout)  # fmt: skip
    assert buyer["total"] == everything and {i["owner"] for i in buyer["items"]} == {None}
    anonymous = run_cli("stands", "list", env=env, cwd=tmp_path)  # no user: no rows
    assert anonymous.returncode == 5 and "--as" in anonymous.stderr
    wrong = run_cli("--as", "li", "stands", "list", "--filter", "owner=x", env=env, cwd=tmp_path)
    assert wrong.returncode == 1 and "cannot filter by owner" in wrong.stderr
    # an export holds what the list shows: the owner's stands; a buyer's, no right holders
    out = tmp_path / "own.geojson"
    exported = run_cli("--as", "household", "stands", "export", "--format", "geojson", "--out",
                       str(out), env=env, cwd=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == mine
    names = {v for f in features for k, v in f["properties"].items() if k in _OWNER_FIELDS}
    assert names == {owner}, names
    out = tmp_path / "buyer.geojson"
    run_cli("--as", "buyer", "stands", "export", "--format", "geojson", "--out", str(out),
            env=env, cwd=tmp_path)  # fmt: skip
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == everything
    assert {v for f in features for k, v in f["properties"].items() if k in _OWNER_FIELDS} <= {
        None, ""}  # fmt: skip


_OWNER_FIELDS = ("JYZT", "LQ_QLR", "林权权利人", "经营主体")  # the profile's right-holder column


def _moved(api: Api) -> None:
    """Credits on the accounts: L1 issued, 20 t to the buyer, 2 t of them pledged to the bank."""
    for user, path, body in (
        ("director", "/credits/issue", {"project": "L1"}),
        ("li", "/credits/transfer", {"from_account": "HOLD-L1", "to_account": "BUYER",
                                     "quantity": 20}),
        ("buyer", "/credits/pledge", {"account": "BUYER", "bank_account": "BANK",
                                      "loan_ref": "DK-9", "amount_yuan": "500", "quantity": 2}),
    ):  # fmt: skip
        r = api.client.post("/api/v1" + path, json=body,
                            headers={**api.auth(user), "Idempotency-Key": path})  # fmt: skip
        assert r.status_code < 300, r.text


# (what, the API's path, the command line's arguments, the part of each to compare)
SAME: list[tuple[str, str, list[str], Any, Any]] = [
    ("stands", "/stands?limit=500", ["stands", "list", "--format", "json", "--limit", "500"],
     lambda a: a, lambda c: c),
    ("stands as GeoJSON", "/stands?limit=40&format=geojson",
     ["stands", "list", "--format", "geojson", "--limit", "40"], lambda a: a, lambda c: c),
    ("accounts", "/credits/accounts?limit=500", ["credits", "show", "--json"],
     lambda a: a["items"], lambda c: c["accounts"]),
    ("the buyer's statement", "/credits/accounts/BUYER",
     ["credits", "show", "--account", "BUYER", "--json"], lambda a: a, lambda c: c),
    ("the bank's blocks", "/credits/blocks?account=BANK&limit=500",
     ["credits", "blocks", "--account", "BANK"], None, None),
    ("every block", "/credits/blocks?limit=500", ["credits", "blocks"], None, None),
    ("the audit log", "/audit/events?limit=5", ["audit", "log", "--limit", "5"], None, None),
    ("the audit chain", "/audit/verify", ["audit", "verify"], None, None),
]  # fmt: skip


def test_the_command_line_shows_each_user_what_the_api_shows(api: Api, tmp_path: Path) -> None:
    """The CLI's read commands call the API's own read services: for every user the same rows,
    and the same refusals (403 over HTTP, exit 5 on the command line)."""
    _household(api)
    _moved(api)
    env = {"TANHUI_DATABASE_URL": api.db_url}
    for user in [*USERS, "household"]:
        for what, path, args, from_api, from_cli in SAME:
            r = api.client.get("/api/v1" + path, headers=api.auth(user))
            done = run_cli("--as", user, *args, env=env, cwd=tmp_path)
            assert r.status_code in (200, 403), (what, user, r.text)
            assert done.returncode == (0 if r.status_code == 200 else 5), (
                what, user, r.status_code, done.stderr)  # fmt: skip
            if r.status_code == 200 and from_api is not None:
                assert from_cli(json.loads(done.stdout)) == from_api(r.json()), (what, user)
    # what the rules give: the buyer reads its own account and the pledge it gave, not the bank's
    buyer = json.loads(run_cli("--as", "buyer", "credits", "show", "--json", env=env,
                               cwd=tmp_path).stdout)  # fmt: skip
    assert [a["account"] for a in buyer["accounts"]] == ["BUYER"]
    assert [(p["holder"], p["bank"]) for p in buyer["pledges"]] == [("BUYER", "BANK")]
    banker = json.loads(run_cli("--as", "banker", "credits", "show", "--json", env=env,
                                cwd=tmp_path).stdout)  # fmt: skip
    assert [a["account"] for a in banker["accounts"]] == ["BANK"] and len(banker["pledges"]) == 1
    owner = json.loads(run_cli("--as", "owner", "credits", "show", "--json", env=env,
                               cwd=tmp_path).stdout)  # fmt: skip
    assert owner["accounts"] == [] and owner["pledges"] == [] and owner["projects"]
