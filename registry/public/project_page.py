"""A project's public page: its card, its lifecycle history as the public sees it (who acted,
by organisation — never a person's name), its monitoring periods, its issuances and
retirements, and its downloadable tables (the frozen ex-ante, its stands' public attributes).

Free text written by staff and verifiers (lifecycle comments, verification comments) is shown
with any household's name withheld, and any ID number, bank card number or telephone number
(DEVELOPERS.md, privacy)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from registry.listings import PageOf
from registry.projects.views import PeriodSummary, ProjectSummary, frozen_exante, project_summary
from registry.public.cache import by_audit_head
from registry.public.ledger import issuances_page, retirements_page
from registry.public.library import (
    ProjectCard,
    organisation_of,
    project_card,
    verifier_organisations,
)
from registry.public.stands import PUBLIC_STAND_COLUMNS, public_stands
from registry.public.withhold import (
    CONTACT_WITHHELD,
    HOUSEHOLD_WITHHELD,
    withhold_household_names,
)
from registry.results import Result

__all__ = [
    "ACTION_NAMES",
    "CONTACT_WITHHELD",
    "HOUSEHOLD_WITHHELD",
    "ROLE_NAMES",
    "ProjectPage",
    "PublicEvent",
    "exante_csv",
    "project_page",
    "stands_csv",
    "withhold_household_names",
]

ACTION_NAMES: dict[str, tuple[str, str]] = {
    "created": ("创建项目", "project created"), "stands_added": ("添加小班", "stands added"),
    "stands_removed": ("移除小班", "stands removed"),
    "evidence_added": ("提交适用性证据", "applicability evidence added"),
    "submit": ("提交审定", "submitted for validation"), "validate": ("审定通过", "validated"),
    "register": ("登记", "registered"), "reject": ("退回", "sent back"),
    "start_measured": ("起始样地测定", "start measurement recorded"),
    "monitor": ("提交监测报告", "monitoring report submitted"), "verify": ("核证通过", "verified"),
    "issue": ("签发", "credits issued"),
    "risk_assessed": ("评估非永久性风险", "non-permanence risk assessed"),
}  # fmt: skip
"""A lifecycle action as the pages name it (zh, en)."""

ROLE_NAMES: dict[str, tuple[str, str]] = {
    "admin": ("管理员", "administrator"), "bureau_staff": ("林业局工作人员", "bureau staff"),
    "verifier": ("审定核证机构", "validation/verification body"), "buyer": ("买方", "buyer"),
    "forest_owner": ("林权权利人", "forest right holder"), "bank": ("银行", "bank"),
}  # fmt: skip
"""A role as the pages name it (zh, en)."""

EXANTE_COLUMNS = ("baseline_stock", "project_stock", "baseline_change", "project_change",
                  "leakage", "project_emissions", "net_removals", "cumulative_net_removals")  # fmt: skip
"""The frozen ex-ante's yearly figures (t CO2e), in the order the CSV gives them."""


@dataclass(frozen=True)
class PublicEvent(Result):
    """One step of a project's lifecycle as the public sees it: when (UTC), which organisation
    acted in which role (``roles``: the actor's roles, comma-separated), what it did, the status
    before and after, and the comment (household names withheld)."""

    at: str | None
    organisation: str
    roles: str
    action: str
    from_status: str = field(metadata={"key": "from"})
    to_status: str = field(metadata={"key": "to"})
    comment: str


@dataclass(frozen=True)
class ProjectPage:
    """Everything the public project page shows. ``summary`` is the registry's own summary
    (for signed-in actions); ``periods`` its monitoring periods with the verifier named by
    organisation; ``issuances`` and ``retirements`` pages of the public ledger (newest first)."""

    card: ProjectCard
    summary: ProjectSummary
    history: tuple[PublicEvent, ...]
    periods: tuple[PeriodSummary, ...]
    issuances: PageOf
    retirements: PageOf
    unverified_parameters: tuple[str, ...]


def _public_history(session: Session, summary: ProjectSummary) -> tuple[PublicEvent, ...]:
    comments = withhold_household_names(session, (h.comment for h in summary.history))
    organisations = withhold_household_names(
        session, (organisation_of(h.actor) for h in summary.history)
    )
    return tuple(
        PublicEvent(h.at, org, h.role, h.action, h.from_status, h.to_status, comment)
        for h, org, comment in zip(summary.history, organisations, comments, strict=True)
    )


def _public_periods(session: Session, summary: ProjectSummary) -> tuple[PeriodSummary, ...]:
    """Periods with the verifier's organisation (from the lifecycle's ``verify`` events: the
    period stores the verifying user's name, the event ``user@organisation``) and comments with
    household names withheld."""
    by_user = verifier_organisations(h.actor for h in summary.history if h.action == "verify")
    texts = [p.comments or "" for p in summary.monitoring_periods]
    texts += [p.override_reason or "" for p in summary.monitoring_periods]
    clean = withhold_household_names(session, texts)
    n = len(summary.monitoring_periods)
    return tuple(
        replace(p, verifier=by_user.get(p.verifier or "", "") or None if p.verifier else None,
                comments=clean[i] or None, override_reason=clean[n + i] or None)
        for i, p in enumerate(summary.monitoring_periods)
    )  # fmt: skip


@by_audit_head
def project_page(
    session: Session, code: str, ledger_rows: int = 50
) -> ProjectPage:  # fmt: skip
    """The public page of project ``code`` (the registry's "no such project" when unknown):
    up to ``ledger_rows`` of its newest issuances and retirements, with their totals. Cached
    until the registry changes (``by_audit_head``): ~50 ms of queries on the 50,000-stand
    county (the project row with its plots, its stands' townships), then a dictionary lookup."""
    card = project_card(session, code)
    summary = project_summary(session, code)
    return ProjectPage(
        card=card, summary=summary, history=_public_history(session, summary),
        periods=_public_periods(session, summary),
        issuances=issuances_page(session, ledger_rows, 0, project=code),
        retirements=retirements_page(session, ledger_rows, 0, project=code),
        unverified_parameters=summary.unverified_parameters,
    )  # fmt: skip


def _csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    writer.writerows(rows)
    return out.getvalue()


def exante_csv(session: Session, code: str) -> str:
    """The ex-ante frozen at registration, one row per year (t CO2e): baseline and project
    stocks, their changes, leakage, project emissions, net removals (project change − baseline
    change − leakage − emissions) and their running total — as the registration froze them
    (the equations and parameter sources are in the frozen traces). The last column lists the
    parameters whose sources are not verified yet (every row: the figures use them). Empty
    (the header only) before registration."""
    frozen = frozen_exante(session, code)
    unverified = "; ".join(frozen.get("unverified_parameters", []))
    header = ["year", *(f"{c}_tco2e" for c in EXANTE_COLUMNS), "unverified_parameters"]
    rows = (
        [row["year"], *(f"{float(row[c]):.3f}" for c in EXANTE_COLUMNS), unverified]
        for row in frozen.get("by_year", [])
    )
    return _csv(header, rows)


def stands_csv(session: Session, code: str, batch: int = 1000) -> str:
    """The project's current stands, their public attributes only (the columns of
    :data:`PUBLIC_STAND_COLUMNS`, the right holder when it is not a household), by stand key;
    areas in ha, ages in years."""
    project_card(session, code)  # an unknown project is refused, not an empty table
    header = [*PUBLIC_STAND_COLUMNS, "owner"]
    rows: list[list[Any]] = []
    offset = 0
    while True:
        page = public_stands(session, limit=batch, offset=offset, project=code, geometry=False)
        rows += [
            [item[c] for c in PUBLIC_STAND_COLUMNS] + [item["owner"] or ""] for item in page.items
        ]
        offset += batch
        if offset >= page.total:
            return _csv(header, rows)
