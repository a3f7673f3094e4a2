"""Eco-labels over HTTP (both engines): the catalogue, an evaluation, roles, and attaching after
issuance (the ledger's relabel) with an idempotency key."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import text

from registry.db import session_scope
from registry.issuance import issue
from tests.api.conftest import Api
from tests.conftest import registry_digest
from tests.registry.ledger_fixtures import ADMIN
from tests.registry.test_labels_ledger import partly_labelled_retirement

EVIDENCE = "双牌县林业局关于竹林经营标签的认定（测试）".encode()
# L1 is a moso bamboo project: every stand passes, 100 % of its area ≥ 50 %
BAMBOO = {
    "code": "bamboo_managed",
    "name_zh": "竹林经营",
    "name_en": "Managed bamboo",
    "kind": "co-benefit",
    "issuer": "双牌县林业局",
    "valid_from": "2026-01-01",
    "valid_to": "2030-12-31",
    "criteria": {
        "stand": {"field": "species_group", "op": "eq", "value": "moso_bamboo", "source": "test"},
        "project": {"basis": "area", "min_share": 0.5, "source": "test"},
    },
    "evidence_name": "认定文件.pdf",
    "evidence_base64": base64.b64encode(EVIDENCE).decode(),
}


def _post(api: Api, user: str, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**api.auth(user), **({"Idempotency-Key": key} if key else {})}
    return api.client.post(f"/api/v1{path}", json=body, headers=headers)


def test_labels_over_http(api: Api) -> None:
    before = registry_digest(api.engine)
    assert _post(api, "li", "/labels", BAMBOO).status_code == 403
    bad = _post(api, "director", "/labels", {**BAMBOO, "evidence_base64": "not base64!"})
    assert bad.status_code == 422 and "base64" in bad.json()["message_en"]
    no_source = {
        **BAMBOO,
        "criteria": {**BAMBOO["criteria"], "project": {"basis": "area", "min_share": 0.5}},
    }
    refused = _post(api, "director", "/labels", no_source)
    assert refused.status_code == 422 and "须注明来源" in refused.json()["message_zh"]
    assert registry_digest(api.engine) == before

    added = _post(api, "director", "/labels", BAMBOO)
    assert added.status_code == 201, added.text
    assert added.json()["evidence_sha256"] == hashlib.sha256(EVIDENCE).hexdigest()
    assert added.json()["evidence_name"] == "认定文件.pdf"
    shown = api.client.get("/api/v1/labels", headers=api.auth("buyer")).json()
    assert [(e["code"], e["name_zh"], e["status"]) for e in shown] == [
        ("bamboo_managed", "竹林经营", "active")
    ]
    assert api.client.get("/api/v1/labels").status_code == 401

    path = "/api/v1/labels/bamboo_managed/evaluation?project=L1"
    assert api.client.get(path, headers=api.auth("buyer")).status_code == 403
    found = api.client.get(path, headers=api.auth("li"))
    assert found.status_code == 200, found.text
    judged = found.json()["judgement"]
    assert judged["n_passed"] == judged["n_stands"] > 0 and judged["share_area"] == 1.0
    assert judged["qualifies"] is True
    unknown = api.client.get(
        "/api/v1/labels/none_such/evaluation?project=L1", headers=api.auth("li")
    )
    assert unknown.status_code == 404 and unknown.json()["message_zh"]

    # attaching before issuance is refused (labels are attached after issuance)
    early = _post(
        api, "director", "/labels/bamboo_managed/attach", {"project": "L1", "vintage": 2026}, "a-0"
    )
    assert early.status_code == 409 and "after issuance" in early.json()["message_en"]
    assert (
        _post(api, "li", "/labels/bamboo_managed/attach", {"project": "L1"}, "a-1").status_code
        == 403
    )
    with api.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM label_attachment")).scalar() == 0

    issued = _post(api, "director", "/credits/issue", {"project": "L1"}, "issue-1")
    assert issued.status_code == 200, issued.text
    total = issued.json()["quantity"]
    first = _post(
        api, "director", "/labels/bamboo_managed/attach", {"project": "L1", "vintage": 2026}, "a-2"
    )
    assert first.status_code == 200, first.text
    assert first.json()["quantity"] == total and first.json()["replayed"] is False
    again = _post(
        api, "director", "/labels/bamboo_managed/attach", {"project": "L1", "vintage": 2026}, "a-2"
    )
    assert again.json()["replayed"] is True and again.json()["quantity"] == total
    held = api.client.get("/api/v1/credits/blocks", headers=api.auth("director")).json()["items"]
    assert held and all(b["labels"] == ["bamboo_managed"] for b in held)
    gone = _post(
        api, "director", "/labels/bamboo_managed/revoke", {"reason": "撤回 withdrawn"}, "r-1"
    )
    assert gone.status_code == 200 and gone.json()["detached"][0]["quantity"] == total
    held = api.client.get("/api/v1/credits/blocks", headers=api.auth("director")).json()["items"]
    assert all(b["labels"] == [] for b in held)


def test_a_partly_labelled_certificate_over_http_and_on_its_page(api: Api, tmp_path: Path) -> None:
    """20 t retired, 5 carrying bamboo_managed, 10 quiet_zone (whose project threshold is
    unverified): the JSON gives each label's quantity; the page shows "5 of 20 t" and says the
    thresholds of quiet_zone, and only those, are unverified."""
    with session_scope(api.engine) as s:
        issue(s, ADMIN, "L1", "issue-part", minimum_pct=10)
    with session_scope(api.engine) as s:
        cert = partly_labelled_retirement(s, tmp_path)
    shown = api.client.get(f"/api/v1/certificates/{cert}").json()
    assert shown["quantity"] == 20 and shown["labels"] == ["bamboo_managed", "quiet_zone"]
    assert shown["label_quantities"] == {"bamboo_managed": 5, "quiet_zone": 10}
    page = api.client.get(f"/certificates/{cert}")
    assert page.status_code == 200
    lines = dict(re.findall(r'<div data-label="(\w+)" data-quantity="\d+">(.*?)</div>', page.text))
    assert set(lines) == {"bamboo_managed", "quiet_zone"}
    assert "竹林经营 Managed bamboo — 共 20 t 中的 5 t / 5 of 20 t" in lines["bamboo_managed"]
    assert "静谧林区 Quiet zone — 共 20 t 中的 10 t / 10 of 20 t" in lines["quiet_zone"]
    unverified = "标签判定阈值未经核实 / the label's thresholds are unverified"
    assert unverified not in lines["bamboo_managed"]
    assert unverified in lines["quiet_zone"]
