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

from registry.audit import canonical_json, event_hash, verify_chain
from registry.db import is_postgres, read_scope, session_scope
from registry.documents.pdf_render import render_pdf
from registry.documents.store import (
    audience_for,
    generate_documents,
    get_document,
    list_documents,
    store_document,
    verify_document,
)
from registry.errors import (
    BadDocumentRequest,
    DocumentNotFound,
    DocumentTampered,
    PermissionDenied,
)
from tests.conftest import registry_digest
from tests.documents.sample import sample_document
from tests.registry.ledger_fixtures import BUYER_USER as BUYER
from tests.registry.project_fixtures import STAFF, VERIFIER
from tests.registry.test_ledger_evidence import _disable_guards


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
        doc_id, "monitoring_report", "SP-TEST-01", 2, "双牌县林业局")  # fmt: skip
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
        # the verification body reads what bureau staff read: the workbooks are for it
        assert [d.id for d in list_documents(s, "SP-TEST-01", VERIFIER)] == [staff, public]
        assert [d.id for d in list_documents(s, "SP-TEST-01", STAFF)] == [staff, public]
        assert [d.id for d in list_documents(s, "SP-TEST-01", BUYER)] == [public]
        assert get_document(s, public)[1] == b"public file"
        for who in (None, BUYER):
            with pytest.raises(DocumentNotFound):
                get_document(s, staff, who)
        for who in (STAFF, VERIFIER):
            assert get_document(s, staff, who)[1] == b"draft file"
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


# -- what a tampering owner cannot make verify say (the tables' owner bypasses the triggers) -----


def _last_event(engine: Engine) -> tuple[int, str]:
    with engine.connect() as c:
        seq, digest = c.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC")).first()  # type: ignore[misc]
    return int(seq), str(digest)


def _forge(engine: Engine, content: bytes, *, good_hash: bool, move_head: bool) -> None:
    """Slip a document row and a ``document.generated`` event for it around the registry: the
    event links to the last one; its hash is either made up or correctly computed."""
    postgres = is_postgres(engine)
    seq, prev = _last_event(engine)
    digest = hashlib.sha256(content).hexdigest()
    with engine.begin() as c:
        _disable_guards(c, "audit_event", postgres)
        _disable_guards(c, "audit_head", postgres)
        doc_id = c.execute(
            text("INSERT INTO document (kind, project_code, period_no, format, file_name, sha256, "
                 "size_bytes, content, audience, generated_by, generated_at) VALUES ('pdd', 'X', "
                 "NULL, 'pdf', 'x.pdf', :h, :n, :c, 'public', 'nobody@x', CURRENT_TIMESTAMP) "
                 "RETURNING id"),
            {"h": digest, "n": len(content), "c": content},
        ).scalar_one()  # fmt: skip
        payload = canonical_json({"sha256": digest, "kind": "pdd", "project": "X"})
        at = "2026-01-01T00:00:00+00:00"
        fields = (at, "nobody@x", "document.generated", "document", str(doc_id), payload)
        new = event_hash(seq + 1, *fields, prev) if good_hash else "f" * 64
        c.execute(
            text("INSERT INTO audit_event (id, occurred_at, actor, action, entity_type, entity_id, "
                 "payload, prev_hash, hash) VALUES (:i, :at, :a, :ac, :t, :e, :p, :prev, :h)"),
            {"i": seq + 1, "at": at, "a": fields[1], "ac": fields[2], "t": fields[3],
             "e": fields[4], "p": payload, "prev": prev, "h": new},
        )  # fmt: skip
        if move_head:
            c.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq + 1, "h": new})


@pytest.mark.parametrize(("good_hash", "move_head"), [(False, True), (True, False)])
def test_a_forged_audit_event_is_not_vouched_for(
    engine: Engine, good_hash: bool, move_head: bool
) -> None:
    """A row and an event written around the log: with a made-up hash (even with the chain
    head moved to it) the event's own hash does not recompute; with a correct one but the head
    left behind, the event is not part of the chain."""
    _store(engine, b"a real document first")
    forged = b"%PDF-1.7 forged"
    _forge(engine, forged, good_hash=good_hash, move_head=move_head)
    with read_scope(engine) as s:
        found = verify_document(s, forged)
    assert not found.issued and found.document is None and found.audit_seq is None
    assert "never issued" in found.message_en


def test_a_deleted_row_is_still_known_from_its_audit_event(engine: Engine) -> None:
    content = b"%PDF-1.7 a design document whose row the owner deleted"
    doc_id = _store(engine, content)
    with read_scope(engine) as s:
        seq = get_document(s, doc_id, STAFF)[0].audit_seq
    with engine.begin() as c:
        _disable_guards(c, "document", is_postgres(engine))
        c.execute(text("DELETE FROM document WHERE id = :i"), {"i": doc_id})
    with read_scope(engine) as s:
        found = verify_document(s, content)
    assert found.issued and found.document is None and found.audit_seq == seq
    assert f"audit event #{seq}" in found.message_en and "missing or altered" in found.message_en
    assert f"审计事件 #{seq}" in found.message_zh and "缺失或被改动" in found.message_zh


def test_altered_stored_bytes_are_never_served(engine: Engine) -> None:
    content = b"%PDF-1.7 as issued"
    doc_id = _store(engine, content)
    with engine.begin() as c:
        _disable_guards(c, "document", is_postgres(engine))
        c.execute(text("UPDATE document SET content = :c WHERE id = :i"),
                  {"c": b"%PDF-1.7 swapped", "i": doc_id})  # fmt: skip
    with read_scope(engine) as s:
        for who in (None, STAFF):
            with pytest.raises(DocumentTampered) as caught:
                get_document(s, doc_id, who)
            assert f"#{doc_id}" in caught.value.message_zh and "altered" in caught.value.message_en
        found = verify_document(s, content)  # the file as issued: the stored copy is not it
    assert found.issued and found.document is None and "missing or altered" in found.message_en


def test_public_answers_name_the_organisation_not_the_staff_member(engine: Engine) -> None:
    content = b"%PDF-1.7 public"
    doc_id = _store(engine, content)
    with read_scope(engine) as s:
        assert [d.generated_by for d in list_documents(s, "SP-TEST-01")] == ["双牌县林业局"]
        assert get_document(s, doc_id)[0].generated_by == "双牌县林业局"
        found = verify_document(s, content)
        assert get_document(s, doc_id, STAFF)[0].generated_by == "李工@双牌县林业局"
    assert found.document is not None and found.document.generated_by == "双牌县林业局"
    assert "李工" not in found.message_zh + found.message_en
