"""Project documents on the project page and through the API: a registered (here: issued)
project's public documents are listed and downloadable by anyone, byte for byte with the
SHA-256 of its audit event; its staff-only files and a draft project's documents are seen by
bureau staff only (anyone else: not listed, not found); anyone may verify a file; a verifier
may not generate documents."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
from sqlalchemy import text

from registry.db import is_postgres, session_scope
from registry.documents.pdf_render import render_pdf
from registry.documents.store import audience_for, store_document
from registry.projects import create_project
from tests.documents.sample import sample_document
from tests.registry.project_fixtures import BUREAU, STAFF
from tests.registry.test_ledger_evidence import _disable_guards
from tests.web.conftest import Web
from tests.web.public_pages import sign_in


@pytest.fixture(scope="module")
def l1_pdf() -> bytes:
    return render_pdf(sample_document("L1"))


def _documents(web: Web, l1_pdf: bytes) -> dict[str, int]:
    """L1 (issued): a public PDF and a staff-only workbook; D1 (a draft): its design document."""
    with session_scope(web.engine) as s:
        create_project(s, STAFF, code="D1", name="草稿项目", methodology="AR-CM-005-V01",
                       developer=BUREAU, start_date=date(2027, 1, 1), crediting_years=20)  # fmt: skip
        ids = {
            "public": store_document(s, STAFF, kind="pdd", project="L1", period=None, fmt="pdf",
                                     content=l1_pdf, audience=audience_for("pdd", "issued")).id,
            "workbook": store_document(s, STAFF, kind="workbook", project="L1", period=None,
                                       fmt="xlsx", content=b"PK\x03\x04 roster",
                                       audience=audience_for("workbook", "issued")).id,
            "draft": store_document(s, STAFF, kind="pdd", project="D1", period=None, fmt="pdf",
                                    content=b"%PDF draft", audience=audience_for("pdd", "draft")).id,
        }  # fmt: skip
    return ids


def test_the_public_sees_the_registered_projects_documents_only(web: Web, l1_pdf: bytes) -> None:
    ids = _documents(web, l1_pdf)
    page = web.page("/projects/L1").text
    assert "项目文件" in page
    assert f'href="/projects/L1/documents/{ids["public"]}"' in page
    assert f'data-document="{ids["workbook"]}"' not in page and "草稿：仅工作人员可见" not in page
    r = web.client.get(f"/projects/L1/documents/{ids['public']}")
    assert r.status_code == 200 and r.content == l1_pdf
    digest = hashlib.sha256(l1_pdf).hexdigest()
    assert r.headers["x-document-sha256"] == digest
    assert r.headers["content-type"] == "application/pdf"
    with web.engine.connect() as c:  # the hash of the audit event is the downloaded file's
        payload = c.execute(text("SELECT payload FROM audit_event WHERE entity_type = 'document' "
                                 "AND entity_id = :e"), {"e": str(ids["public"])}).scalar_one()  # fmt: skip
    assert json.loads(payload)["sha256"] == digest
    for path in (f"/projects/L1/documents/{ids['workbook']}", f"/projects/D1/documents/{ids['draft']}",
                 f"/projects/D1/documents/{ids['public']}", f"/api/v1/documents/{ids['draft']}"):  # fmt: skip
        assert web.page(path).status_code == 404, path
    assert f'data-document="{ids["draft"]}"' not in web.page("/projects/D1").text
    listed = web.client.get("/api/v1/documents", params={"project": "L1"}).json()
    assert [d["id"] for d in listed] == [ids["public"]]
    assert [d["generated_by"] for d in listed] == [BUREAU]  # the organisation, not the login
    assert web.client.get(f"/api/v1/documents/{ids['public']}").content == l1_pdf


def test_bureau_staff_see_the_drafts(web: Web, l1_pdf: bytes) -> None:
    ids = _documents(web, l1_pdf)
    token = {"Authorization": f"Bearer {web.tokens['li']}"}
    listed = web.client.get("/api/v1/documents", params={"project": "L1"}, headers=token).json()
    assert sorted(d["id"] for d in listed) == sorted([ids["public"], ids["workbook"]])
    assert (
        web.client.get(f"/api/v1/documents/{ids['draft']}", headers=token).content == b"%PDF draft"
    )
    # a verification body reads the drafts and workbooks it checks; a buyer does not
    auditor = {"Authorization": f"Bearer {web.tokens['auditor']}"}
    assert web.client.get(f"/api/v1/documents/{ids['draft']}", headers=auditor).status_code == 200
    assert (
        web.client.get(f"/api/v1/documents/{ids['workbook']}", headers=auditor).content
        == b"PK\x03\x04 roster"
    )
    buyer = {"Authorization": f"Bearer {web.tokens['buyer']}"}
    assert web.client.get(f"/api/v1/documents/{ids['draft']}", headers=buyer).status_code == 404
    sign_in(web, "li")
    page = web.page("/projects/D1").text
    assert f'data-document="{ids["draft"]}" data-audience="staff"' in page
    assert "草稿：仅工作人员可见" in page
    assert web.client.get(f"/projects/D1/documents/{ids['draft']}").content == b"%PDF draft"


def test_anyone_may_verify_a_file(web: Web, l1_pdf: bytes) -> None:
    ids = _documents(web, l1_pdf)
    found = web.client.post("/api/v1/documents/verify", content=l1_pdf).json()
    assert found["issued"] is True and found["document"]["id"] == ids["public"]
    assert found["document"]["project"] == "L1" and found["document"]["kind"] == "pdd"
    changed = bytearray(l1_pdf)
    changed[100] ^= 0x20
    refused = web.client.post("/api/v1/documents/verify", content=bytes(changed)).json()
    assert refused["issued"] is False and refused["document"] is None


def test_a_verifier_may_not_generate(web: Web) -> None:
    auditor = {"Authorization": f"Bearer {web.tokens['auditor']}"}
    r = web.client.post("/api/v1/documents", json={"kind": "pdd", "project": "L1"}, headers=auditor)
    assert r.status_code == 403 and "生成项目文件" in r.text
    with web.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM document")).scalar() == 0


def test_altered_stored_bytes_are_refused_not_served(web: Web, l1_pdf: bytes) -> None:
    """The tables' owner swaps a stored file's bytes: neither the API nor the page serves them."""
    ids = _documents(web, l1_pdf)
    with web.engine.begin() as c:
        _disable_guards(c, "document", is_postgres(web.engine))
        c.execute(text("UPDATE document SET content = :c WHERE id = :i"),
                  {"c": b"%PDF swapped", "i": ids["public"]})  # fmt: skip
    for path in (f"/api/v1/documents/{ids['public']}", f"/projects/L1/documents/{ids['public']}"):
        r = web.client.get(path)
        assert r.status_code == 503, path
        assert b"swapped" not in r.content
        assert "存储副本已被改动" in r.text and "stored copy was altered" in r.text
