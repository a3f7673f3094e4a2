"""The document store (registry/documents/store.py), on both engines: a stored file's SHA-256 —
computed here with hashlib from the bytes — is the one in its row and in its audit event
``document.generated`` (written in the same transaction, the chain still verifying); verifying
the file names the document, one changed byte makes it unknown; rows cannot be changed or
deleted; staff-only documents are invisible to anyone else; refused requests change nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from registry.audit import verify_chain
from registry.db import read_scope, session_scope
from registry.documents.pdf_render import render_pdf
from registry.documents.store import (
    audience_for,
    generate_documents,
    get_document,
    list_documents,
    store_document,
    verify_document,
)
from registry.errors import BadDocumentRequest, DocumentNotFound, PermissionDenied
from tests.conftest import registry_digest
from tests.documents.sample import sample_document
from tests.registry.project_fixtures import STAFF, VERIFIER


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return render_pdf(sample_document("SP-TEST-01"))


def _store(engine: Engine, content: bytes, audience: str = "public", period: int | None = None,
           kind: str = "pdd", fmt: str = "pdf") -> int:  # fmt: skip
    with session_scope(engine) as s:
        info = store_document(s, STAFF, kind=kind, project="SP-TEST-01", period=period, fmt=fmt,
                              content=content, audience=audience)  # fmt: skip
        return info.id


def test_the_hash_in_the_audit_log_is_the_files(engine: Engine, sample_pdf: bytes) -> None:
    doc_id = _store(engine, sample_pdf)
    expected = hashlib.sha256(sample_pdf).hexdigest()
    with engine.connect() as c:
        sha, size, by, name = c.execute(
            text("SELECT sha256, size_bytes, generated_by, file_name FROM document WHERE id = :i"),
            {"i": doc_id},
        ).one()
        action, payload = c.execute(
            text("SELECT action, payload FROM audit_event WHERE entity_type = 'document' "
                 "AND entity_id = :e"), {"e": str(doc_id)}).one()  # fmt: skip
    assert (sha, size, by, name) == (
        expected,
        len(sample_pdf),
        "李工@双牌县林业局",
        "SP-TEST-01-pdd.pdf",
    )
    assert action == "document.generated"
    body = json.loads(payload)
    assert body["sha256"] == expected and body["size_bytes"] == len(sample_pdf)
    assert (body["kind"], body["project"], body["period"], body["format"]) == (
        "pdd",
        "SP-TEST-01",
        None,
        "pdf",
    )
    with read_scope(engine) as s:
        assert verify_chain(s).ok
        info, content = get_document(s, doc_id, STAFF)
    assert content == sample_pdf  # the bytes kept are the bytes hashed
    assert info.audit_seq is not None and info.sha256 == expected


def test_verify_names_the_document_and_one_changed_byte_is_unknown(
    engine: Engine, sample_pdf: bytes, tmp_path: Path
) -> None:
    doc_id = _store(engine, sample_pdf, period=2, kind="monitoring_report")
    received = tmp_path / "received.pdf"
    received.write_bytes(sample_pdf)
    with read_scope(engine) as s:
        found = verify_document(s, received)
    assert found.issued and found.document is not None
    d = found.document
    assert (d.id, d.kind, d.project, d.period, d.generated_by) == (
        doc_id, "monitoring_report", "SP-TEST-01", 2, "李工@双牌县林业局")  # fmt: skip
    assert "SP-TEST-01" in found.message_zh and "第 2 监测期" in found.message_zh
    altered = bytearray(sample_pdf)
    altered[len(altered) // 2] ^= 0x01  # one bit of one byte in the middle of the file
    with read_scope(engine) as s:
        refused = verify_document(s, bytes(altered))
        empty = verify_document(s, b"")
    assert not refused.issued and refused.document is None
    assert refused.sha256 == hashlib.sha256(bytes(altered)).hexdigest()
    assert "未知或已被改动" in refused.message_zh and "never issued" in refused.message_en
    assert not empty.issued


def test_a_row_whose_audit_event_disagrees_is_not_vouched_for(engine: Engine) -> None:
    """A file slipped into the table without its audit event (as a tampering writer would) is
    not one the registry issued: the answer needs the audit log's hash too."""
    content = b"%PDF-1.7 not issued"
    with engine.begin() as c:
        c.execute(
            text("INSERT INTO document (kind, project_code, period_no, format, file_name, sha256, "
                 "size_bytes, content, audience, generated_by, generated_at) VALUES ('pdd', 'X', "
                 "NULL, 'pdf', 'x.pdf', :h, :n, :c, 'public', 'nobody', CURRENT_TIMESTAMP)"),
            {"h": hashlib.sha256(content).hexdigest(), "n": len(content), "c": content},
        )  # fmt: skip
    with read_scope(engine) as s:
        assert not verify_document(s, content).issued


def test_stored_documents_are_never_changed_or_deleted(engine: Engine) -> None:
    doc_id = _store(engine, b"PK\x03\x04 a workbook", audience="staff", kind="workbook", fmt="xlsx")
    for sql in (
        "UPDATE document SET sha256 = 'x' WHERE id = :i",
        "DELETE FROM document WHERE id = :i",
    ):
        with pytest.raises(Exception, match="append-only"), engine.begin() as c:
            c.execute(text(sql), {"i": doc_id})
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM document")).scalar() == 1


def test_staff_only_documents_are_invisible_to_others(engine: Engine) -> None:
    public = _store(engine, b"public file")
    staff = _store(engine, b"draft file", audience="staff")
    with read_scope(engine) as s:
        assert [d.id for d in list_documents(s, "SP-TEST-01")] == [public]
        assert [d.id for d in list_documents(s, "SP-TEST-01", VERIFIER)] == [public]
        assert [d.id for d in list_documents(s, "SP-TEST-01", STAFF)] == [staff, public]
        assert get_document(s, public)[1] == b"public file"
        for who in (None, VERIFIER):
            with pytest.raises(DocumentNotFound):
                get_document(s, staff, who)
        assert get_document(s, staff, STAFF)[1] == b"draft file"
        with pytest.raises(DocumentNotFound):
            get_document(s, 999_999, STAFF)


def test_who_sees_what() -> None:
    assert audience_for("pdd", "draft") == "staff"
    assert audience_for("pdd", "validated") == "staff"
    assert audience_for("pdd", "registered") == "public"
    assert audience_for("monitoring_report", "issued") == "public"
    assert audience_for("workbook", "issued") == "staff"  # it may hold the compensation roster


def test_refused_requests_change_nothing(engine: Engine) -> None:
    before = registry_digest(engine)
    cases = [
        (VERIFIER, "pdd", None, None, PermissionDenied),
        (STAFF, "brochure", None, None, BadDocumentRequest),
        (STAFF, "monitoring_report", None, None, BadDocumentRequest),  # no period
        (STAFF, "pdd", None, ["pdf", "xlsx"], BadDocumentRequest),  # a PDD is not a workbook
    ]
    for actor, kind, period, formats, error in cases:
        with pytest.raises(error) as caught, session_scope(engine) as s:
            generate_documents(s, actor, kind, "SP-TEST-01", period, formats)
        assert caught.value.message_zh and caught.value.message_en
    assert registry_digest(engine) == before
