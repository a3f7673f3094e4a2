"""The project library (林区碳交易项目库): every project with the figures a buyer compares —
methodology, status, townships, area, crediting period, frozen ex-ante, credits issued /
retired / in the buffer pool, vintages and eco-labels — filtered, searched, sorted and paged.

Figures are in t CO2e (one credit = 1 t CO2e). ``issued`` counts every credit issued (the
buffer's share included, as the issuance records it); ``in_buffer`` the credits the buffer pool
holds now; ``retired`` the credits retired."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from methodologies.catalogue import CATALOGUE, MethodologyCode
from registry.db import DriverSQL
from registry.errors import Invalid
from registry.ledger.labels import label_set
from registry.public.cache import by_audit_head
from registry.results import Result

__all__ = ["SORTS", "LibraryQuery", "ProjectCard", "library_facets", "library_page",
           "organisation_of", "project_card"]  # fmt: skip

Sort = Literal["code", "name", "area", "issued", "retired", "start", "status"]
SORTS: tuple[str, ...] = ("code", "name", "area", "issued", "retired", "start", "status")


@dataclass(frozen=True)
class ProjectCard(Result):
    """One project as the library lists it (public: no owner names)."""

    code: str
    name: str
    methodology: str
    methodology_name: str
    developer: str
    status: str
    townships: tuple[str, ...]
    area_ha: float
    stands: int
    start_date: str
    crediting_years: int
    crediting_end: str
    exante_total_tco2e: float | None
    issued: int
    retired: int
    in_buffer: int
    vintages: tuple[int, ...]
    labels: tuple[str, ...]
    verifiers: tuple[str, ...] = field(default=())  # organisations that validated or verified


@dataclass(frozen=True)
class LibraryQuery:
    """Filters (exact values), a search text (code, name, township or developer contain it),
    a sort key and direction."""

    methodology: str | None = None
    status: str | None = None
    township: str | None = None
    vintage: int | None = None
    label: str | None = None
    q: str | None = None
    sort: str = "code"
    descending: bool = False

    def checked(self) -> LibraryQuery:
        if self.sort not in SORTS:
            raise Invalid(
                f"不能按 {self.sort!r} 排序，可选：{', '.join(SORTS)}。",
                f"cannot sort by {self.sort!r}; one of: {', '.join(SORTS)}.",
            )
        q = (self.q or "").strip() or None
        return replace(self, q=q[:100] if q else None)


@by_audit_head  # the catalogue changes only with an audit event (added, revoked)
def label_names(session: Session) -> dict[str, tuple[str, str]]:
    """Every catalogue label's public names, code → (Chinese, English), "（已撤销）/ (revoked)"
    added to a revoked one: the pages show names where blocks store codes."""
    rows = DriverSQL(session).rows("SELECT code, name_zh, name_en, status FROM eco_label")
    return {str(c): (f"{zh}（已撤销）" if st == "revoked" else str(zh),
                     f"{en} (revoked)" if st == "revoked" else str(en))
            for c, zh, en, st in rows}  # fmt: skip


def verifier_organisations(verify_actors: Iterable[str]) -> dict[str, str]:
    """A monitoring period stores its verifying user's name; the lifecycle's ``verify`` events
    name ``user@organisation``: user → organisation from those actors, in order (the latest
    wins)."""
    out: dict[str, str] = {}
    for actor in verify_actors:
        user, _, _ = actor.rpartition("@")
        out[user] = organisation_of(actor)
    return out


def organisation_of(actor_label: str) -> str:
    """The organisation of an actor as the lifecycle and the audit log name it
    (``user@organisation``, :attr:`registry.actors.Actor.label`); "" when it names none."""
    _, at, organisation = actor_label.rpartition("@")
    return organisation.strip() if at else ""


def _end(start: date, years: int) -> str:
    """The crediting period's last day: ``years`` after the start, less one day."""
    try:
        after = start.replace(year=start.year + years)
    except ValueError:  # from 29 February
        after = start.replace(year=start.year + years, month=3, day=1)
    return (after - timedelta(days=1)).isoformat()


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _grouped(db: DriverSQL, sql: str, params: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in db.rows(sql, params or {}):
        out.setdefault(str(row[0]), []).append(row[1] if len(row) == 2 else tuple(row[1:]))
    return out


@by_audit_head  # the cards change only with the registry (bench/web: /library 62 → 450 req/s)
def _cards(session: Session, code: str | None = None) -> list[ProjectCard]:
    db = DriverSQL(session)
    one = " WHERE p.code = :c" if code is not None else ""
    params = {"c": code} if code is not None else {}
    projects = db.rows(
        "SELECT p.code, p.name, p.methodology, p.developer, p.status, p.area_ha, p.n_stands, "
        f"p.start_date, p.crediting_years, p.exante_total_tco2e FROM project p{one} ORDER BY p.code",
        params,
    )  # fmt: skip
    townships = _grouped(db,
        "SELECT DISTINCT p.code, s.township FROM project p JOIN project_stand ps ON ps.project_id = p.id "
        "AND ps.active = :a JOIN stand s ON s.stand_key = ps.stand_key AND s.is_current = :a "
        f"WHERE s.township IS NOT NULL{' AND p.code = :c' if code else ''}", {"a": True, **params})  # fmt: skip
    issued = {str(r[0]): int(r[1]) for r in db.rows(
        "SELECT project_code, SUM(quantity) FROM issuance GROUP BY project_code")}  # fmt: skip
    live = db.rows(
        "SELECT b.project_code, b.state, a.kind, b.labels, b.vintage, SUM(b.last_seq - b.first_seq + 1) "
        "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL "
        "GROUP BY b.project_code, b.state, a.kind, b.labels, b.vintage"
    )  # fmt: skip
    retired: dict[str, int] = {}
    buffer: dict[str, int] = {}
    labels: dict[str, set[str]] = {}
    vintages: dict[str, set[int]] = {}
    for project, state, kind, block_labels, vintage, n in live:
        p = str(project)
        if state == "retired":
            retired[p] = retired.get(p, 0) + int(n)
        if kind == "buffer" and state == "active":
            buffer[p] = buffer.get(p, 0) + int(n)
        labels.setdefault(p, set()).update(label_set(block_labels))
        vintages.setdefault(p, set()).add(int(vintage))
    # validation and verification bodies: the organisation of whoever validated or verified
    # (the lifecycle names ``user@organisation``; the public sees the organisation only)
    verifiers = {c: sorted({organisation_of(str(a)) for a in acts} - {""}) for c, acts in _grouped(db,
        "SELECT DISTINCT p.code, e.actor FROM project p JOIN project_event e ON e.project_id = p.id "
        f"WHERE e.action IN ('validate', 'verify'){' AND p.code = :c' if code else ''}", params).items()}  # fmt: skip
    cards = []
    for r in projects:
        c = str(r[0])
        known = CATALOGUE.get(MethodologyCode(r[2])) if r[2] in set(CATALOGUE) else None
        start = _as_date(r[7])
        cards.append(ProjectCard(
            code=c, name=str(r[1]), methodology=str(r[2]),
            methodology_name=known.name if known else str(r[2]), developer=str(r[3]),
            status=str(r[4]), townships=tuple(sorted(str(t) for t in townships.get(c, []))),
            area_ha=float(r[5] or 0), stands=int(r[6] or 0), start_date=start.isoformat(),
            crediting_years=int(r[8]), crediting_end=_end(start, int(r[8])),
            exante_total_tco2e=None if r[9] is None else float(r[9]),
            issued=issued.get(c, 0), retired=retired.get(c, 0), in_buffer=buffer.get(c, 0),
            vintages=tuple(sorted(vintages.get(c, set()))), labels=tuple(sorted(labels.get(c, set()))),
            verifiers=tuple(sorted(str(v) for v in verifiers.get(c, []))),
        ))  # fmt: skip
    return cards


def _matches(card: ProjectCard, q: LibraryQuery) -> bool:
    if q.methodology and card.methodology != q.methodology:
        return False
    if q.status and card.status != q.status:
        return False
    if q.township and q.township not in card.townships:
        return False
    if q.vintage is not None and q.vintage not in card.vintages:
        return False
    if q.label and q.label not in card.labels:
        return False
    if q.q:
        needle = q.q.casefold()
        hay = " ".join((card.code, card.name, card.developer, *card.townships)).casefold()
        return needle in hay
    return True


_KEYS: dict[str, Any] = {
    "code": lambda c: c.code, "name": lambda c: c.name, "area": lambda c: c.area_ha,
    "issued": lambda c: c.issued, "retired": lambda c: c.retired, "start": lambda c: c.start_date,
    "status": lambda c: c.status,
}  # fmt: skip


def library_page(
    session: Session, query: LibraryQuery, limit: int, offset: int
) -> tuple[list[ProjectCard], int]:
    """One page of the library and the number of projects the filters leave. The order is
    stable: the sort key, then the project code."""
    q = query.checked()
    found = [c for c in _cards(session) if _matches(c, q)]
    key = _KEYS[q.sort]
    found.sort(key=lambda c: c.code)
    found.sort(key=key, reverse=q.descending)
    return found[offset : offset + limit], len(found)


def project_card(session: Session, code: str) -> ProjectCard:
    """One project's card (raises the registry's "no such project" when unknown)."""
    from registry.projects.core import find_project

    find_project(session, code)
    return _cards(session, code)[0]


def library_facets(session: Session) -> dict[str, list[Any]]:
    """The values each library filter can take (for the filter menus): methodologies (code and
    name), statuses, townships, vintages and labels present in the registry."""
    cards = _cards(session)
    return {
        "methodology": sorted({(c.methodology, c.methodology_name) for c in cards}),
        "status": sorted({c.status for c in cards}),
        "township": sorted({t for c in cards for t in c.townships}),
        "vintage": sorted({v for c in cards for v in c.vintages}),
        "label": sorted({lb for c in cards for lb in c.labels}),
    }
