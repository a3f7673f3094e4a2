"""Retirement certificates as pages: ``/certificates/{id}`` (the figures, the audit event's
sequence number and hash with how to verify them, a QR code of the page's own address),
``/certificates/{id}.pdf`` (the bilingual PDF a buyer frames) and ``/certificates?serial=…``
(303 to the certificate holding that serial)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from api.deps import RegistryDep
from api.pages.rendering import render
from registry.certificate_pdf import certificate_pdf
from registry.errors import UnknownCertificate
from registry.public import certificate_for_serial, data_as_of
from registry.public.ledger import public_certificate

__all__ = ["certificate_url", "router"]

router = APIRouter(include_in_schema=False)
CertificatePath = Annotated[str, Path(max_length=40)]


def certificate_url(request: Request, certificate_id: str) -> str:
    """The certificate page's absolute address: ``TANHUI_PUBLIC_URL`` when set, else as this
    request reached the server (its Host header — set the public address in production)."""
    public = request.app.state.registry.settings.public_url
    base = public if public else str(request.base_url)
    return base.rstrip("/") + f"/certificates/{certificate_id}"


@router.get("/certificates", response_model=None)
def by_serial(
    registry: RegistryDep, serial: Annotated[str | None, Query(max_length=80)] = None
) -> RedirectResponse:
    """The certificate holding ``serial`` (303); none: the bilingual 404 page; no serial: the
    public ledger, where certificates are listed."""
    if not (serial or "").strip():
        return RedirectResponse("/ledger", status_code=303)
    assert serial is not None
    found = registry.read(lambda s: certificate_for_serial(s, serial))
    if found is None:
        raise UnknownCertificate(
            f"序列号 {serial.strip()} 不在任何退役证书中（未签发或尚未退役）。",
            f"serial {serial.strip()} is in no retirement certificate (not issued, or not retired).",
        )
    return RedirectResponse(f"/certificates/{found}", status_code=303)


@router.get("/certificates/{certificate_id}.pdf")
def certificate_pdf_download(
    request: Request, registry: RegistryDep, certificate_id: CertificatePath
) -> Response:
    """The certificate as a bilingual PDF (A4 landscape), its QR code pointing to the page."""
    found = registry.read(lambda s: public_certificate(s, certificate_id))
    cert_id = found.certificate.certificate
    body = certificate_pdf(
        found, certificate_url(request, cert_id), registry.settings.registry_name
    )
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{cert_id}.pdf"'})  # fmt: skip


@lru_cache(maxsize=1024)
def _qr_svg(url: str) -> str:
    """The QR code of ``url`` as inline SVG (segno's: no text from the request in it); the same
    URL always gives the same code, so it is made once (~4 ms each)."""
    return str(segno.make(url, error="m").svg_inline(scale=4, border=2))


@router.get("/certificates/{certificate_id}", response_class=HTMLResponse)
def certificate_page(
    request: Request, registry: RegistryDep, certificate_id: CertificatePath
) -> HTMLResponse:
    """A retirement certificate's public page (unknown id: the bilingual 404 page)."""

    def read(session: Session) -> tuple[Any, ...]:
        return public_certificate(session, certificate_id), data_as_of(session)

    found, as_of = registry.read(read)
    url = certificate_url(request, found.certificate.certificate)
    qr = Markup(_qr_svg(url))
    return render(request, registry, "certificate.html", {
        "found": found, "cert": found.certificate, "url": url, "qr": qr, "nav": "ledger",
    }, as_of=as_of)  # fmt: skip
