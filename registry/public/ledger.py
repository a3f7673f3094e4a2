"""The public ledger: issuances and retirements, newest first, searchable by serial, and the
retirement certificate that holds any given serial. Beneficiaries and purposes are public (the
retiring party chose to state them); who moved credits is named by organisation only."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.labels.catalogue import label_display, label_unverified_notes
from registry.ledger.results import Certificate
from registry.ledger.serials import format_block, parse_serial
from registry.ledger.views import certificate, retired_labels
from registry.listings import PageOf
from registry.public.cache import by_audit_head
from registry.public.library import organisation_of
from registry.public.withhold import withhold_household_names

__all__ = [
    "CertificateLabel",
    "PublicCertificate",
    "certificate_for_serial",
    "issuances_page",
    "public_certificate",
    "retirements_page",
]


def _serial_filter(serial: str | None) -> tuple[str, int, int, int] | None:
    if serial is None or not serial.strip():
        return None
    r = parse_serial(serial)  # a bad serial is refused with the ledger's bilingual message
    return r.project, r.vintage, r.first, r.last


def issuances_page(
    session: Session, limit: int, offset: int, project: str | None = None,
    serial: str | None = None,
) -> PageOf:  # fmt: skip
    """Issuances, newest first: project, vintage, credits (buffer included), buffer share, the
    serial range, the monitoring period and when. ``serial``: the issuance that made it."""
    db = DriverSQL(session)
    where: list[str] = []
    params: dict[str, Any] = {"l": limit, "f": offset}
    if project:
        where.append("i.project_code = :p")
        params["p"] = project
    found = _serial_filter(serial)
    if found:
        where.append("i.project_code = :sp AND i.vintage = :sv")
        params.update(sp=found[0], sv=found[1])
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    # the issuance's range: the serials of the blocks its operation created
    base = (" FROM issuance i JOIN ledger_operation o ON o.id = i.op_id JOIN monitoring_period m ON "
            "m.id = i.monitoring_period_id JOIN (SELECT created_op_id, MIN(first_seq) AS lo, MAX(last_seq) AS hi "
            "FROM credit_block GROUP BY created_op_id) r ON r.created_op_id = i.op_id" + clause)  # fmt: skip
    if found:
        base += " AND r.lo <= :s1 AND r.hi >= :s0"
        params.update(s0=found[2], s1=found[3])
    total = db.first("SELECT COUNT(*)" + base, params)
    rows = db.rows("SELECT i.id, i.project_code, i.vintage, i.quantity, i.buffer_quantity, r.lo, r.hi, "
                   f"m.period_no, m.start_date, m.end_date, o.created_at{base} ORDER BY i.id DESC LIMIT :l OFFSET :f",
                   params)  # fmt: skip
    items = [
        {"issuance": int(r[0]), "project": r[1], "vintage": int(r[2]), "quantity": int(r[3]),
         "buffer": int(r[4]), "serials": format_block(str(r[1]), int(r[2]), int(r[5]), int(r[6])),
         "period": int(r[7]), "period_start": str(r[8]), "period_end": str(r[9]),
         "issued_at": str(r[10])}
        for r in rows
    ]  # fmt: skip
    return PageOf(items, int(total[0]) if total else 0, limit, offset)


def _retirement_rows(db: DriverSQL, where: str, params: dict[str, Any]) -> list[Any]:
    return db.rows("SELECT r.certificate_id, r.beneficiary, r.purpose, r.retired_on, r.quantity, r.serials, "
                   f"r.op_id FROM retirement r{where}", params)  # fmt: skip


def _holds(serials: str, project: str, vintage: int, first: int, last: int) -> bool:
    for block in serials.split("\n"):
        r = parse_serial(block)
        if r.project == project and r.vintage == vintage and r.first <= last and first <= r.last:
            return True
    return False


def retirements_page(
    session: Session, limit: int, offset: int, project: str | None = None,
    serial: str | None = None, q: str | None = None,
) -> PageOf:  # fmt: skip
    """Retirements, newest first: certificate id, beneficiary, purpose, date, credits, serial
    ranges and the eco-labels the retired blocks carried. ``serial``: the retirement holding
    it; ``project``: retirements of that project's credits; ``q``: beneficiary or certificate
    id contains it."""
    db = DriverSQL(session)
    where: list[str] = []
    params: dict[str, Any] = {}
    found = _serial_filter(serial)
    wanted = found[0] if found else project
    if wanted:  # narrowed in SQL by the project's serial prefix, then exactly below
        where.append("r.serials LIKE :like")
        params["like"] = f"%-{wanted}-%"
    if q and q.strip():
        where.append("(instr(r.beneficiary, :q) > 0 OR instr(r.certificate_id, :q) > 0)"
                     if not db.postgres else "(strpos(r.beneficiary, :q) > 0 OR strpos(r.certificate_id, :q) > 0)")  # fmt: skip
        params["q"] = q.strip()[:100]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = _retirement_rows(db, clause + " ORDER BY r.id DESC", params)
    kept = []
    for r in rows:
        blocks = [parse_serial(b) for b in str(r[5]).split("\n")]
        if project and not any(b.project == project for b in blocks):
            continue
        if found and not _holds(str(r[5]), *found):
            continue
        kept.append(r)
    page_rows = kept[offset : offset + limit]
    texts = withhold_household_names(session, [str(t) for r in page_rows for t in (r[1], r[2])])
    page_rows = [(r[0], texts[2 * i], texts[2 * i + 1], *r[3:]) for i, r in enumerate(page_rows)]
    items = [
        {"certificate": r[0], "beneficiary": r[1], "purpose": r[2], "retired_on": str(r[3]),
         "quantity": int(r[4]), "serials": str(r[5]).split("\n"),
         "projects": sorted({parse_serial(b).project for b in str(r[5]).split("\n")}),
         "labels": sorted(retired_labels(session, int(r[6]), str(r[5]).split("\n")))}
        for r in page_rows
    ]  # fmt: skip
    return PageOf(items, len(kept), limit, offset)


def certificate_for_serial(session: Session, serial: str) -> str | None:
    """The certificate id of the retirement holding ``serial`` (a serial or a range), or None
    if none of its credits is retired."""
    page = retirements_page(session, 1, 0, serial=serial)
    return str(page.items[0]["certificate"]) if page.items else None


UNVERIFIED_LABEL = "标签判定阈值未经核实 / the label's thresholds are unverified"


@dataclass(frozen=True)
class CertificateLabel:
    """An eco-label on a certificate: its code, its name as shown (:func:`label_display`), how
    many of the retired credits carried it out of how many were retired (t CO2e), and what is
    unverified about its criteria (:func:`label_unverified_notes`; empty when nothing is)."""

    code: str
    name: str
    quantity: int
    of: int
    unverified: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """E.g. "水源涵养 Water conservation — 共 10 t 中的 5 t / 5 of 10 t"."""
        return (f"{self.name} — 共 {self.of:,} t 中的 {self.quantity:,} t / "
                f"{self.quantity:,} of {self.of:,} t")  # fmt: skip


@dataclass(frozen=True)
class PublicCertificate:
    """A retirement certificate as the public sees it: the ledger's certificate (checked
    against the audit event that recorded it), the eco-labels its credits carried when they
    were retired (codes, and as shown: the catalogue's names, "revoked since" for a label
    revoked later; ``label_lines``: each with the credits that carried it and whether its
    thresholds are unverified), and the organisation that retired them (never the user's
    name)."""

    certificate: Certificate
    labels: tuple[str, ...]
    retired_by: str
    label_names: tuple[str, ...] = ()
    label_lines: tuple[CertificateLabel, ...] = ()


@by_audit_head
def public_certificate(session: Session, certificate_id: str) -> PublicCertificate:
    """The certificate ``certificate_id`` (the ledger's "no such certificate" when unknown)."""
    found = certificate(session, certificate_id)
    labels = tuple(sorted(found.label_quantities))  # those of its own retired blocks
    beneficiary, purpose, by = withhold_household_names(
        session, (found.beneficiary, found.purpose, organisation_of(found.retired_by))
    )
    shown = replace(found, beneficiary=beneficiary, purpose=purpose)
    carried = found.label_quantities
    names = dict(zip(sorted(carried), label_display(session, tuple(carried)), strict=True))
    lines = tuple(
        CertificateLabel(code, names[code], quantity, found.quantity,
                         label_unverified_notes(session, [code]))
        for code, quantity in sorted(carried.items())
    )  # fmt: skip
    return PublicCertificate(shown, labels, by, label_display(session, labels), lines)
