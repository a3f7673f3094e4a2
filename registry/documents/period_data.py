"""A monitoring period as the documents read it: the stored row, the two measurements it was
computed from (the start measurement or the previous kept period, and the period's own plots),
the change recomputed with :func:`methodologies.expost.estimate_change` — the same function
:func:`registry.projects.monitoring.submit_monitoring` used — and the ledger's issuance.

Nothing here computes a figure a second way: the per-plot values come from the methodology's
own functions on the stored CSVs; the period's figures are the stored ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies import catalogue
from methodologies.expost import ChangeResult, estimate_change
from registry.errors import PeriodNotFound
from registry.models import MonitoringPeriod, Project
from registry.projects.core import find_project, periods
from registry.projects.monitoring import change_start, read_csv
from registry.public.as_of import data_as_of
from registry.vocabulary import PeriodStatus

__all__ = [
    "Disturbances",
    "Issued",
    "PeriodData",
    "baseline_parameters",
    "frozen_baseline_parameters",
    "load_disturbances",
    "load_period",
    "plot_order",
]


@dataclass(frozen=True)
class Issued:
    """The ledger's issuance for a period: credits (floor of the verified t CO2e), the buffer's
    share of them, the vintage."""

    quantity: int
    buffer: int
    vintage: int


@dataclass(frozen=True)
class PeriodData:
    project: Project
    period: MonitoringPeriod
    start_trees: pd.DataFrame
    start_strata: pd.DataFrame
    end_trees: pd.DataFrame
    end_strata: pd.DataFrame
    start_label: str  # where the start measurement came from (zh / en)
    change: ChangeResult  # recomputed from the stored CSVs with the registry's own functions
    provenance: dict[str, Any]
    flags: list[dict[str, Any]]
    issued: Issued | None
    exclude_pre_existing: bool
    exante: dict[str, Any]  # the ex-ante frozen at registration ({} before), as stored
    as_of: str  # the registry's data time (its newest audit event), read with the period


def _issued(session: Session, period: MonitoringPeriod) -> Issued | None:
    row = session.execute(
        text(
            "SELECT quantity, buffer_quantity, vintage FROM issuance "
            "WHERE monitoring_period_id = :m"
        ),
        {"m": period.id},
    ).first()
    return None if row is None else Issued(int(row[0]), int(row[1]), int(row[2]))


def load_period(session: Session, code: str, period_no: int | None) -> PeriodData:
    """Period ``period_no`` of project ``code`` (``None``: its latest period that was not
    rejected); refuses an unknown project or period in both languages."""
    project = find_project(session, code)
    all_periods = periods(session, project)
    if period_no is None:
        kept = [p for p in all_periods if p.status != PeriodStatus.REJECTED]
        if not kept:
            raise PeriodNotFound(
                f"项目 {code} 还没有监测期。", f"project {code} has no monitoring period yet."
            )
        period = kept[-1]
    else:
        found = [p for p in all_periods if p.period_no == period_no]
        if not found:
            raise PeriodNotFound(
                f"项目 {code} 没有第 {period_no} 监测期。",
                f"project {code} has no monitoring period {period_no}.",
            )
        period = found[0]
    # the start of the change, as submit_monitoring chose it (the same rule: change_start)
    before = [
        p
        for p in all_periods
        if p.period_no < period.period_no and p.status != PeriodStatus.REJECTED
    ]
    start_trees, start_strata, start_period = change_start(project, before)
    label = (
        f"第 {start_period.period_no} 监测期 period {start_period.period_no}"
        if start_period is not None
        else f"起始测定 start measurement {project.start_measured_on}"
    )
    end_trees, end_strata = read_csv(period.plots_csv), read_csv(period.strata_csv)
    record = catalogue.methodology(project.methodology)
    change = estimate_change(
        start_trees, start_strata, end_trees, end_strata, project.methodology,
        exclude_pre_existing=record.excludes_pre_existing_trees,
    )  # fmt: skip
    return PeriodData(
        project=project,
        period=period,
        start_trees=start_trees,
        start_strata=start_strata,
        end_trees=end_trees,
        end_strata=end_strata,
        start_label=label,
        change=change,
        provenance=dict(json.loads(period.provenance_json or "{}")),
        flags=list(json.loads(period.flags_json or "[]")),
        issued=_issued(session, period),
        exclude_pre_existing=record.excludes_pre_existing_trees,
        exante=dict(json.loads(project.exante_json or "{}")),
        as_of=data_as_of(session) or "—",
    )


def plot_order(plot_id: object) -> tuple[tuple[int, int | str], ...]:
    """Natural order of plot names: P2 before P10 before P100 (runs of digits compare as
    numbers)."""
    parts = re.split(r"(\d+)", str(plot_id))
    return tuple((1, int(t)) if t.isdigit() else (0, t) for t in parts)


def baseline_parameters(data: PeriodData) -> dict[str, dict[str, Any]]:
    """The unverified parameters the baseline of the ex-ante frozen at registration used
    (:func:`frozen_baseline_parameters`), when the period's baseline change ΔC_BSL is not zero:
    the period's net removals then rest on them. Empty for a zero baseline."""
    if not data.period.baseline_tco2e:
        return {}
    return frozen_baseline_parameters(data.exante)


def frozen_baseline_parameters(exante: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The unverified parameters the baseline of a frozen ex-ante (as stored at registration)
    used: name → its stored value, unit, source, status.

    The frozen traces' steps are read in order; a step the methodology notes as the project
    scenario's (its note starts "project") is left out — the growth curve, the carbon factors
    and the baseline's own step are kept."""
    unverified = [str(n) for n in exante.get("unverified_parameters", [])]
    found: dict[str, dict[str, Any]] = {}
    for trace in exante.get("traces", {}).values():
        for step in trace.get("steps", []):
            if str(step.get("note", "")).startswith("project"):
                continue
            for prm in step.get("parameters", []):
                found.setdefault(str(prm["name"]), dict(prm))
    return {n: found[n] for n in unverified if n in found}


def registered_at(session: Session, project: Project) -> Any:
    """When the project was registered (its ``register`` history row), or None."""
    from registry.models import ProjectEvent

    return session.execute(
        select(col(ProjectEvent.at))
        .where(col(ProjectEvent.project_id) == project.id)
        .where(col(ProjectEvent.action) == "register")
        .order_by(col(ProjectEvent.id))
    ).scalar()


@dataclass(frozen=True)
class Disturbances:
    """What remote-sensing monitoring found for a period's report (public facts only):
    the confirmed reversals whose event date lies in the window ``first``–``last`` (both
    inclusive: from the day after the previous kept period's end, else the period's start, to
    the period's end), the project's flags still awaiting review, and the dismissed flags whose
    scenes' interval overlaps the window (stand key, the verifier's reason as written)."""

    first: date
    last: date
    reversals: tuple[Any, ...]  # registry.public.reversals.PublicReversal
    open_flags: tuple[tuple[str, str, str], ...]  # (stand key, before date, after date)
    dismissed: tuple[tuple[str, str], ...]  # (stand key, reason)


def load_disturbances(session: Session, data: PeriodData) -> Disturbances:
    """The disturbances and reversals of ``data``'s project for its period's window."""
    import sqlalchemy as sa

    from registry.public.reversals import public_reversals
    from registry.remote_sensing.runs import find_flag
    from registry.remote_sensing.tables import rs_flag

    project, period = data.project, data.period
    earlier = [p for p in periods(session, project) if p.period_no < period.period_no
               and p.status != PeriodStatus.REJECTED]  # fmt: skip
    first = earlier[-1].end_date + timedelta(days=1) if earlier else period.start_date
    last = period.end_date
    reversals = tuple(
        r for r in public_reversals(session, project.code)
        if first <= date.fromisoformat(r.event_date[:10]) <= last
    )  # fmt: skip
    ids = session.execute(
        sa.select(rs_flag.c.id).where(rs_flag.c.project_code == project.code)
        .where(rs_flag.c.status.in_(("open", "dismissed"))).order_by(rs_flag.c.id)
    ).scalars()  # fmt: skip
    open_flags, dismissed = [], []
    for flag in (find_flag(session, int(i)) for i in ids):
        if flag.status == "open":
            open_flags.append((flag.stand_key, flag.before_on[:10], flag.after_on[:10]))
        elif flag.before_on[:10] <= last.isoformat() and flag.after_on[:10] >= first.isoformat():
            dismissed.append((flag.stand_key, flag.review_reason or ""))
    return Disturbances(first, last, reversals, tuple(open_flags), tuple(dismissed))
