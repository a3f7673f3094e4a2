"""Retirement certificates: the page's figures (worked out by hand from the fixture), its audit
event as the log holds it, its QR code pointing to the page itself, found by any serial in it;
the bilingual PDF read back with poppler (pdftotext, pdffonts) and rendered for a look
(pdftoppm); the same PDF from the command line; and the page in Chromium, found by serial."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import segno
from sqlalchemy import text

from registry.audit import verify_chain
from registry.db import read_scope
from tests.cli_runner import run_cli
from tests.web.conftest import Web
from tests.web.public_pages import (
    CERTIFICATE_SERIALS,
    INSIDE,
    NEVER,
    OUTSIDE,
    RETIRED,
    figure,
    household_names,
    visible_text,
)
from tests.web.web_fixtures import BENEFICIARY, PURPOSE


def _retirement(web: Web) -> tuple[str, str, int, str]:
    """The fixture's one retirement as the database holds it: certificate id, date, and the
    sequence number and hash of the audit event written with it."""
    with web.engine.connect() as c:
        cert, on, op = c.execute(
            text("SELECT certificate_id, retired_on, op_id FROM retirement")
        ).one()
        seq, digest = c.execute(
            text("SELECT id, hash FROM audit_event WHERE entity_type = 'ledger_operation' "
                 "AND entity_id = :op"), {"op": str(op)}).one()  # fmt: skip
    return str(cert), str(on)[:10], int(seq), str(digest)


def test_certificate_page_shows_the_figures_and_the_audit_event(web: Web) -> None:
    cert, on, seq, digest = _retirement(web)
    r = web.page(f"/certificates/{cert}")
    assert r.status_code == 200
    page = r.text
    assert '<dl class="certificate">' in page
    assert figure(page, "data-field", "quantity") == f"{RETIRED} tCO₂e"  # 30
    assert figure(page, "data-field", "beneficiary") == BENEFICIARY
    assert figure(page, "data-field", "purpose") == PURPOSE
    assert figure(page, "data-field", "retired_on").startswith(on)
    assert figure(page, "data-field", "serials") == CERTIFICATE_SERIALS  # 101..130
    projects = figure(page, "data-field", "projects")
    assert "L1" in projects and "2026" in projects and f"{RETIRED} tCO₂e" in projects
    assert figure(page, "data-field", "labels") == "无"  # L1's credits carry no eco-label
    assert figure(page, "data-field", "event_hash") == digest
    assert figure(page, "data-field", "event_seq") == f"#{seq}"
    assert "tanhui audit verify" in page
    with read_scope(web.engine) as s:  # the hash shown is part of a chain that verifies
        assert verify_chain(s).ok
    assert "buyer@" not in page  # retired by the organisation, not the user
    assert not [n for n in household_names(web.engine) if n in visible_text(page)]


def test_the_qr_code_points_to_the_page_itself(web: Web) -> None:
    cert, *_ = _retirement(web)
    page = web.page(f"/certificates/{cert}").text
    url = f"http://testserver/certificates/{cert}"  # the TestClient's own address
    assert url in page
    svg = re.search(r"<svg[^>]*class=\"segno\".*?</svg>", page, re.S)
    assert svg is not None
    assert svg.group(0) == segno.make(url, error="m").svg_inline(scale=4, border=2)
    assert svg.group(0) != segno.make(url + "x", error="m").svg_inline(scale=4, border=2)


def test_found_by_any_serial_in_it(web: Web) -> None:
    cert, *_ = _retirement(web)
    for serial in (INSIDE, CERTIFICATE_SERIALS, CERTIFICATE_SERIALS.split("..")[0]):
        r = web.client.get("/certificates", params={"serial": serial}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/certificates/{cert}", serial
    for serial in (OUTSIDE, NEVER):  # not retired; never issued
        r = web.page("/certificates", params={"serial": serial})
        assert r.status_code == 404
        assert "不在任何退役证书中" in r.text and "is in no retirement certificate" in r.text
    assert web.page("/certificates", params={"serial": "nonsense"}).status_code == 422
    assert web.page("/certificates/RC-0000-NOPE").status_code == 404
    r = web.client.get("/certificates", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ledger"


def _pdf_text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout


def _look(pdf: Path, png: Path) -> None:
    """Render the first page for a person to look at (test artifacts)."""
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(png.with_suffix(""))],
                   check=True, timeout=60)  # fmt: skip
    assert png.stat().st_size > 10_000


def test_certificate_pdf_is_bilingual_and_holds_the_figures(
    web: Web, tmp_path: Path, artifacts: Path
) -> None:
    cert, on, seq, digest = _retirement(web)
    r = web.client.get(f"/certificates/{cert}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    pdf = tmp_path / f"{cert}.pdf"
    pdf.write_bytes(r.content)
    words = _pdf_text(pdf)
    for expected in ("碳汇退役证书", "Carbon Credit Retirement Certificate", cert, BENEFICIARY,
                     f"{RETIRED} tCO₂e", CERTIFICATE_SERIALS, on, f"#{seq}", digest,
                     f"http://testserver/certificates/{cert}", "tanhui audit verify"):  # fmt: skip
        assert expected in words, expected
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    assert "WenQuanYi" in fonts.stdout and " yes " in fonts.stdout  # embedded (a subset)
    if shutil.which("pdftoppm"):
        _look(pdf, artifacts / "certificate_pdf.png")
    missing = web.page("/certificates/RC-0000-NOPE.pdf")
    assert missing.status_code == 404 and "no retirement certificate" in missing.text


def test_the_command_line_writes_the_same_pdf(web: Web, tmp_path: Path) -> None:
    cert, *_ = _retirement(web)
    pdf = tmp_path / "c.pdf"
    env = {"TANHUI_DATABASE_URL": web.db_url}
    done = run_cli("credits", "certificate", "--id", cert, "--pdf", str(pdf), "--base-url",
                   "https://carbon.example.cn/", env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    words = _pdf_text(pdf)
    assert CERTIFICATE_SERIALS in words and f"{RETIRED} tCO₂e" in words
    assert f"https://carbon.example.cn/certificates/{cert}" in words
    refused = run_cli("credits", "certificate", "--id", "RC-NOPE", "--pdf", str(tmp_path / "x.pdf"),
                      env=env, cwd=tmp_path)  # fmt: skip
    assert refused.returncode != 0 and "no retirement certificate" in refused.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_certificate_found_by_serial_in_chromium(
    live_server: str, browser_page: Any, artifacts: Path
) -> None:
    page = browser_page
    page.goto(live_server + "/ledger")
    page.fill("input[name=serial]", INSIDE)
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/ledger?serial=*")
    page.click("a.certificate-link")
    page.wait_for_url("**/certificates/RC-*")
    assert page.locator("dd[data-field=quantity]").inner_text() == f"{RETIRED} tCO₂e"
    assert page.locator("dd[data-field=serials]").inner_text() == CERTIFICATE_SERIALS
    assert page.locator("aside.qr svg").count() == 1
    page.screenshot(path=str(artifacts / "certificate_page.png"), full_page=True)
    page.goto(live_server + f"/certificates?serial={INSIDE}")  # the short way: a 303
    assert "/certificates/RC-" in page.url
    page.goto(live_server + "/ledger")
    page.screenshot(path=str(artifacts / "public_ledger.png"), full_page=True)
