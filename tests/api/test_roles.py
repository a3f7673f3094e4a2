"""Every endpoint × every role, allowed or refused, from ONE table (both engines).

A row: the request (method, path, body — each may depend on the user, so every allowed user
acts on its own things) and the users allowed. Refused users get 403 and change nothing (one
hash over every row of every table of the registry, before and after); each allowed user
succeeds (2xx). Rows run in order: the ledger rows build on one another (L1 is issued, then
moved), and so do the projects' (drafts are submitted, validated, registered, measured,
monitored and verified; see :mod:`tests.api.lifecycle_fixtures`). No credentials: 401 on every
endpoint but the public certificate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.api.conftest import Api
from tests.api.lifecycle_fixtures import evidence_file, plot_books
from tests.conftest import registry_digest
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.user_fixtures import PASSWORD, USERS

ALL = frozenset(USERS)
STAFF = frozenset({"director", "li"})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Upload:
    """A multipart body: form fields and files (name → (filename, bytes))."""

    data: dict[str, str]
    files: dict[str, tuple[str, bytes]]


Body = Callable[[str, dict[str, Any]], dict[str, Any] | Upload | None]
Path_ = Callable[[str, dict[str, Any]], str]


def _const(value: Any) -> Callable[[str, dict[str, Any]], Any]:
    return lambda _u, _c: value


def _own(prefix: str, suffix: str = "") -> Path_:
    """The path of the user's own project ``{prefix}-{user}`` (staff), else li's: a refused
    user tries a project that exists, in the state the action needs."""
    return lambda u, _: f"/projects/{prefix}-{u if u in STAFF else 'li'}{suffix}"


def _measured(u: str) -> str:
    """Who records and monitors which registered project: li its own D-li, the director the
    verifier's organisation's D-VER (refused users try D-li)."""
    return "D-VER" if u == "director" else "D-li"


def _file(name: str, key: str) -> Body:
    return lambda _u, c: Upload({}, {"file": (name, c["files"][key])})


def _verified(code: str) -> Body:
    """Verify the whole computed removals of ``code``'s open period (t, rounded down)."""
    return lambda _u, c: {"quantity": float(math.floor(c["removals"][code])), "comment": "核证",
                          "override_reason": "复核样地 plots rechecked"}  # fmt: skip


# (name, method, path, body, allowed users). Bodies and paths get (user, context).
TABLE: list[tuple[str, str, Path_, Body, frozenset[str]]] = [
    ("who am I", "GET", _const("/auth/me"), _const(None), ALL),
    ("make an API token", "POST", _const("/auth/tokens"), lambda u, _: {"name": f"t-{u}"}, ALL),
    ("make a token for li", "POST", _const("/auth/tokens"), _const({"name": "x", "for_user": "li"}),
     STAFF),  # li for itself; another user's only by an admin
    ("revoke li's token", "DELETE", lambda _u, c: f"/auth/tokens/{c['tokens']['li']}",
     _const(None), STAFF),
    ("list users", "GET", _const("/users"), _const(None), ALL),
    ("add a user", "POST", _const("/users"),
     lambda u, _: {"username": f"new-{u}", "organisation": "双牌县林业局", "roles": ["buyer"],
                   "password": PASSWORD}, frozenset({"director"})),
    ("set roles", "PUT", _const("/users/owner/roles"), _const({"roles": ["forest_owner"]}),
     frozenset({"director"})),
    ("reset a password", "POST", _const("/users/new-director/password"),
     _const({"password": "another long password"}), frozenset({"director"})),
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
    ("the bank's blocks", "GET", _const("/credits/blocks?account=BANK"), _const(None),
     STAFF | {"banker"}),
    ("every block", "GET", _const("/credits/blocks"), _const(None), STAFF),
    ("a serial's history", "GET", _const("/credits/serials/CN-431123-L1-2026-000000500/history"),
     _const(None), ALL),
    ("the audit log", "GET", _const("/audit/events"), _const(None), STAFF | {"auditor"}),
    ("verify the audit chain", "GET", _const("/audit/verify"), _const(None), STAFF | {"auditor"}),
    ("stands", "GET", _const("/stands?limit=5"), _const(None), ALL),
    ("stands as GeoJSON", "GET", _const("/stands?limit=2&format=geojson"), _const(None), ALL),
    ("a stand's history", "GET", lambda _u, c: f"/stands/{c['stand']}/history", _const(None), ALL),
    ("upload an inventory", "POST", _const("/inventory/imports"),
     lambda _u, c: Upload({"inventory_year": "2020"}, {"file": ("s.gpkg", c["files"]["gpkg"])}),
     STAFF),
    ("past imports", "GET", _const("/inventory/imports"), _const(None), STAFF),
    ("an import's report", "GET", _const("/inventory/imports/1/report"), _const(None), STAFF),
    ("projects", "GET", _const("/projects"), _const(None), ALL),
    ("a project", "GET", _const("/projects/L1"), _const(None), ALL),
    ("create a project", "POST", _const("/projects"),
     lambda u, _: {"code": f"P-{u}", "name": "项目", "methodology": "AR-CM-005-V01",
                   "developer": "双牌县林业局", "start_date": "2026-01-01"}, STAFF),
    ("add stands to a draft", "POST", _own("P", "/stands"),
     lambda u, _: {"selection": "species_group=" + ("broadleaf" if u == "li" else "masson_pine")},
     STAFF),
    ("remove stands from a draft", "POST", _own("P", "/stands/remove"),
     _const({"selection": "origin=天然"}), STAFF),
    ("add evidence to a draft", "POST", _own("P", "/evidence"), _file("evidence.csv", "evidence"),
     STAFF),
    ("submit", "POST", _own("D", "/actions/submit"), _const({}), STAFF),
    ("reject a submitted project", "POST", _const("/projects/D-director/actions/reject"),
     _const({"comment": "证据不全 evidence incomplete"}), frozenset({"auditor"})),
    ("validate", "POST", _const("/projects/D-li/actions/validate"), _const({}),
     frozenset({"auditor"})),
    ("validate its own organisation's project", "POST",
     _const("/projects/D-VER2/actions/validate"), _const({}), NOBODY),
    ("register", "POST", _const("/projects/D-li/actions/register"), _const({}),
     frozenset({"director"})),
    ("record the start measurement", "POST",
     lambda u, _: f"/projects/{_measured(u)}/start-measurement",
     lambda u, c: Upload({"measured_on": "2026-01-01"},
                         {"file": ("start.xlsx", c["files"][f"{_measured(u)}-start"])}), STAFF),
    ("submit a monitoring period", "POST", lambda u, _: f"/projects/{_measured(u)}/monitoring",
     lambda u, c: Upload({"start": "2026-01-01", "end": "2026-12-31"},
                         {"file": ("end.xlsx", c["files"][f"{_measured(u)}-end"])}), STAFF),
    ("verify", "POST", _const("/projects/D-li/verify"), _verified("D-li"), frozenset({"auditor"})),
    ("verify its own organisation's project", "POST", _const("/projects/D-VER/verify"),
     _verified("D-VER"), NOBODY),
    ("reject its own organisation's monitoring", "POST", _const("/projects/D-VER/actions/reject"),
     _const({"comment": "样地不足"}), NOBODY),
    ("disable a user", "POST", _const("/users/owner/disable"), _const(None),
     frozenset({"director"})),
]  # fmt: skip
PUBLIC = ("/certificates/RC-2026-00000001",)


def _request(api: Api, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    if isinstance(body, Upload):
        return api.client.request(method, url, data=body.data, files=body.files, headers=headers)
    return api.client.request(method, url, json=body, headers=headers)


def _files(api: Api, folder: Path) -> dict[str, bytes]:
    """What the uploads send: the evidence table, the plots of D-li and D-VER at the start and
    the end, and the scenario's own inventory again (unchanged: nothing to import)."""
    files = {"evidence": evidence_file(folder).read_bytes(),
             "gpkg": write_gpkg(sample_frame(300, 21), folder / "s.gpkg").read_bytes()}  # fmt: skip
    for code in ("D-li", "D-VER"):
        start, end = plot_books(api.engine, folder, code)
        files[f"{code}-start"], files[f"{code}-end"] = start.read_bytes(), end.read_bytes()
    return files


def test_every_endpoint_for_every_role(lifecycle_api: Api, tmp_path: Path) -> None:
    api = lifecycle_api
    with api.engine.connect() as c:
        stand = c.execute(text("SELECT MIN(stand_key) FROM stand")).scalar_one()
    context: dict[str, Any] = {"files": _files(api, tmp_path), "stand": stand, "tokens": {},
                               "removals": {}}  # fmt: skip
    for name, method, path, body, allowed in TABLE:
        # refused users first (the disabled-later owner among them): 403, nothing written
        for user in sorted(ALL - allowed):
            before = registry_digest(api.engine)
            r = _request(api, method, "/api/v1" + path(user, context), body(user, context),
                         {**api.auth(user), "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert r.status_code == 403, (name, user, r.status_code, r.text)
            assert set(r.json()) == {"code", "message_zh", "message_en", "details"}
            assert registry_digest(api.engine) == before, (name, user)
        for user in sorted(allowed):
            r = _request(api, method, "/api/v1" + path(user, context), body(user, context),
                         {**api.auth(user), "Idempotency-Key": f"{name}-{user}"})  # fmt: skip
            assert 200 <= r.status_code < 300, (name, user, r.status_code, r.text)
            shown = r.json() if r.content else {}
            if "pledge" in shown:
                context["pledge"] = shown["pledge"]
            if "removals_tco2e" in shown:
                context["removals"][shown["project"]] = shown["removals_tco2e"]
            if name == "make an API token":
                context["tokens"][user] = shown["id"]
            if name == "make a token for li" and user == "li":
                context["tokens"]["li"] = shown["id"]
    # the lifecycle's end states, as the rows left them
    with api.engine.connect() as c:
        states = dict(
            c.execute(text("SELECT code, status FROM project WHERE code LIKE 'D-%'")).all()
        )
        verified = c.execute(text(
            "SELECT m.verified_tco2e, m.verifier FROM monitoring_period m JOIN project p "
            "ON p.id = m.project_id WHERE p.code = 'D-li'")).one()  # fmt: skip
    assert states == {"D-li": "verified", "D-director": "draft", "D-VER": "monitored",
                      "D-VER2": "submitted"}  # fmt: skip
    assert verified == (math.floor(context["removals"]["D-li"]), "auditor")
    # the disabled owner's token no longer works anywhere
    assert api.client.get("/api/v1/auth/me", headers=api.auth("owner")).status_code == 401


def test_no_credentials_no_way_in(api: Api) -> None:
    anything: dict[str, Any] = {"pledge": 1, "stand": "x", "tokens": defaultdict(lambda: 1),
                                "removals": defaultdict(float), "files": defaultdict(bytes)}  # fmt: skip
    for name, method, path, body, _ in TABLE:
        r = _request(api, method, "/api/v1" + path("x", anything), body("x", anything),
                     {"Idempotency-Key": "k"})  # fmt: skip
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["code"] == "unauthenticated"
    for path in PUBLIC:  # certificates are public; this one does not exist
        assert api.client.get("/api/v1" + path).status_code == 404
