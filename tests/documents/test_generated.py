"""The real documents end to end, on both engines: the design document and the monitoring
report of the issued bamboo project L1 built from the registry, rendered to Word and PDF and
stored; every key figure the builder lists is in the rendered files as it is in the Document
(the builders' figures are checked against the registry in test_pdd / test_monitoring_report);
the PDF's text comes out Chinese (no missing glyphs); the workbook is stored with them; each
stored file's SHA-256 — computed here — is the one its audit event carries, and verifying the
file names it."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from collections.abc import Callable

import pytest
from docx import Document as WordDocument
from sqlalchemy import Engine, text

from registry.db import read_scope, session_scope
from registry.documents.monitoring_report import build_monitoring_report
from registry.documents.pdd import build_pdd
from registry.documents.store import generate_documents, get_document, verify_document
from tests.documents.doc_fixtures import issued_project
from tests.registry.project_fixtures import STAFF


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _pdf_text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True)  # fmt: skip
    return done.stdout.decode("utf-8")


def _docx_text(data: bytes) -> str:
    word = WordDocument(io.BytesIO(data))
    parts = [p.text for p in word.paragraphs]
    parts += [c.text for t in word.tables for row in t.rows for c in row.cells]
    return "\n".join(parts)


def _squeezed(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_design_document_and_monitoring_report_carry_their_figures(registry: Engine) -> None:
    with session_scope(registry) as s:
        pdd = generate_documents(s, STAFF, "pdd", "L1", formats=["docx", "pdf"])
        report = generate_documents(s, STAFF, "monitoring_report", "L1", 1, ["docx", "pdf"])
        book = generate_documents(s, STAFF, "workbook", "L1", 1)
    with read_scope(registry) as s:
        built = {
            "pdd": build_pdd(s, "L1"),
            "monitoring_report": build_monitoring_report(s, "L1", 1),
        }
        files = {(i.kind, i.format): get_document(s, i.id, STAFF) for i in [*pdd, *report, *book]}
    for kind, doc in built.items():
        word = _squeezed(_docx_text(files[(kind, "docx")][1]))
        pdf_text = _pdf_text(files[(kind, "pdf")][1])
        assert "\ufffd" not in pdf_text
        for section in doc.sections:  # the top headings, Chinese, come out of the PDF
            assert _squeezed(section.heading) in _squeezed(pdf_text), (kind, section.heading)
        pdf = _squeezed(pdf_text)
        for kf in doc.key_figures:
            assert _squeezed(kf.shown) in word, (kind, kf.key, kf.shown)
            assert _squeezed(kf.shown) in pdf, (kind, kf.key, kf.shown)
    # the verified quantity of period 1 (the fixture verified 1,000.5 t CO2e) is in the report
    assert "1,000.5" in _pdf_text(files[("monitoring_report", "pdf")][1])

    for (kind, fmt), (info, content) in files.items():
        digest = hashlib.sha256(content).hexdigest()
        with registry.connect() as c:
            payload = json.loads(c.execute(text(
                "SELECT payload FROM audit_event WHERE action = 'document.generated' "
                "AND entity_id = :e"), {"e": str(info.id)}).scalar_one())  # fmt: skip
        assert info.sha256 == digest and payload["sha256"] == digest, (kind, fmt)
        with read_scope(registry) as s:
            found = verify_document(s, content)
        assert found.issued and found.document is not None and found.document.id == info.id


def test_a_workbook_asked_without_a_period_is_stored_as_the_period_it_holds(
    registry: Engine,
) -> None:
    with session_scope(registry) as s:
        [info] = generate_documents(s, STAFF, "workbook", "L1")
    assert info.period == 1  # L1's one verified period, the latest kept
    assert info.file_name == "L1-workbook-p1.xlsx"
