"""Measurements and monitoring: the start measurement of the permanent plots, monitoring
periods (removals from the change of the same plots, uncertainty on the change, the
plausibility gate) and verification.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from methodologies import catalogue
from methodologies.expost import EMPTY_PLOT, estimate, estimate_change
from methodologies.plausibility import check_period
from registry.errors import (
    FlaggedPeriod,
    InvalidTransition,
    ProjectError,
    StartMeasurementMissing,
)
from registry.models import (
    MonitoringPeriod,
    Project,
    ProjectStatus,
)
from registry.projects.core import (
    STAFF,
    TRANSITIONS,
    Actor,
    S,
    check_action,
    lock_project,
    now,
    open_period,
    periods,
    record_event,
    require_role,
)
from registry.vocabulary import PeriodStatus

__all__ = [
    "START_TOLERANCE_DAYS",
    "change_start",
    "crediting_end",
    "plots_digest",
    "read_csv",
    "record_start_measurement",
    "submit_monitoring",
    "verify_period",
]


def crediting_end(project: Project) -> date:
    """The first day after the crediting period: the start date ``crediting_years`` later
    (periods end before it)."""
    start = project.start_date
    return date(start.year + project.crediting_years, start.month, start.day)


def change_start(
    project: Project, kept_before: list[MonitoringPeriod]
) -> tuple[pd.DataFrame, pd.DataFrame, MonitoringPeriod | None]:
    """Where a period's change starts: the plots and strata of the last kept (not rejected)
    period before it, else the start measurement of the crediting period (that period: None).
    ``kept_before``: the project's kept periods before it, in order."""
    if kept_before:
        last = kept_before[-1]
        return read_csv(last.plots_csv), read_csv(last.strata_csv), last
    if project.start_plots_csv and project.start_strata_csv:
        return read_csv(project.start_plots_csv), read_csv(project.start_strata_csv), None
    raise StartMeasurementMissing(
        f"项目 {project.code} 没有起始样地测定：请先记录计入期开始时的固定样地测定"
        "（碳汇量只能来自同一方法的两次测定之差，不能用样地减去模型估算的蓄积）。",
        f"project {project.code} has no start measurement: record the permanent plots measured "
        "at the start of the crediting period first — removals come from two measurements made "
        "the same way, never plots against modelled inventory.",
    )


def read_csv(text_: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text_))


def plots_digest(trees: pd.DataFrame, strata: pd.DataFrame) -> str:
    return hashlib.sha256(
        trees.to_csv(index=False).encode() + strata.to_csv(index=False).encode()
    ).hexdigest()


START_TOLERANCE_DAYS = 366


def record_start_measurement(
    session: Session, actor: Actor, code: str, measured_on: date, trees: pd.DataFrame,
    strata: pd.DataFrame,
) -> Project:  # fmt: skip
    """Record the measurement of the permanent sample plots at the start of the crediting period.

    Every later monitoring period is measured on the same plots, the same way; the first
    period's removals are the change from this measurement (never from modelled inventory
    stock). Staff only; within a year of the project's start date; replaceable (audited) until
    a monitoring period has been submitted. The plots are checked like monitoring plots.
    """
    require_role(actor, STAFF, "记录样地起始测定 / record the start measurement")
    project = lock_project(session, code)
    if project.status not in (S.DRAFT, S.SUBMITTED, S.VALIDATED, S.REGISTERED):
        raise InvalidTransition(
            f"项目 {code} 处于 {project.status} 状态，已开始监测，不能再更改起始测定。",
            f"project {code} is {project.status}: monitoring has begun, the start measurement "
            "can no longer change.",
        )
    if any(p.status != PeriodStatus.REJECTED for p in periods(session, project)):
        raise InvalidTransition(
            f"项目 {code} 已有监测期，不能再更改起始测定。",
            f"project {code} has a monitoring period: the start measurement can no longer change.",
        )
    gap = abs((measured_on - project.start_date).days)
    if gap > START_TOLERANCE_DAYS:
        raise ProjectError(
            f"起始测定日期 {measured_on} 与项目开始日期 {project.start_date} 相差 {gap} 天，须在一年以内。",
            f"the start measurement ({measured_on}) is {gap} days from the project's start "
            f"({project.start_date}); it must be within a year.",
        )
    record = catalogue.methodology(project.methodology)
    result = estimate(trees, strata, exclude_pre_existing=record.excludes_pre_existing_trees)
    previous = project.start_plots_digest
    digest = plots_digest(trees, strata)
    project.start_measured_on = measured_on
    project.start_plots_csv = trees.to_csv(index=False)
    project.start_strata_csv = strata.to_csv(index=False)
    project.start_plots_digest = digest
    session.add(project)
    record_event(session, project, actor, "start_measured", project.status, "",
            {"measured_on": measured_on.isoformat(), "plots_digest": digest,
             "replaces_digest": previous, "plots": int(result.plots["plot_id"].nunique()),
             "stock_tco2e": round(result.estimate_tco2e, 3),
             "uncertainty": None if not np.isfinite(result.uncertainty) else round(result.uncertainty, 4)})  # fmt: skip
    return project


def _area_by_group(trees: pd.DataFrame, strata: pd.DataFrame) -> dict[str, float]:
    """Species group of each stratum (its most frequent tree group) → summed stratum area."""
    counted = trees[trees["species_group"] != EMPTY_PLOT]
    if counted.empty:
        return {}
    group_of = counted.groupby("stratum")["species_group"].agg(lambda g: g.value_counts().index[0])
    out: dict[str, float] = {}
    areas = strata.set_index("stratum")["area_ha"].astype(float)
    for stratum, area in areas.items():
        group = group_of.get(stratum)
        if group is not None:
            out[str(group)] = out.get(str(group), 0.0) + float(area)
    return out


def submit_monitoring(
    session: Session, actor: Actor, code: str, start: date, end: date, trees: pd.DataFrame,
    strata: pd.DataFrame, plausibility_factor: float | None = None,
) -> MonitoringPeriod:  # fmt: skip
    """Attach a monitoring period with its plot data; compute ex-post removals; → monitored.

    Periods are consecutive (each starts the day after the last kept one ends; the first on the
    project's start date), do not overlap and lie within the crediting period. The stock change
    is measured between two measurements of the same permanent plots made the same way: the
    start measurement (first period) or the previous kept period's plots, whose *undiscounted*
    estimate is the starting stock. Removals = the change after the methodology's uncertainty
    deduction (on the change) − the baseline change over the period (from the ex-ante frozen at
    registration) − leakage (0). Afforestation does not count pre-existing trees. The
    plausibility gate's flags are stored for the verifier (``plausibility_factor``: the
    registry's setting, default the parameter table's).
    """
    project = lock_project(session, code)
    rule = TRANSITIONS["monitor"]
    before = ProjectStatus(project.status)
    check_action(project, actor, "monitor", rule, before)
    kept = [p for p in periods(session, project) if p.status != PeriodStatus.REJECTED]
    expected_start = (
        project.start_date if not kept else date.fromordinal(kept[-1].end_date.toordinal() + 1)
    )
    last_day = crediting_end(project)
    if start != expected_start:
        raise ProjectError(
            f"监测期须从 {expected_start.isoformat()} 开始（与上一监测期连续），而不是 {start.isoformat()}。",
            f"the monitoring period must start on {expected_start.isoformat()} (consecutive with the last), not {start.isoformat()}.",
        )
    if not start < end < last_day:
        raise ProjectError(
            f"监测期 {start}–{end} 须在计入期内（截至 {last_day} 之前）。",
            f"the monitoring period {start}–{end} must end within the crediting period (before {last_day}).",
        )
    start_trees, start_strata, start_period = change_start(project, kept)
    start_source = (
        f"period {start_period.period_no} ({start_period.plots_digest[:12]})"
        if start_period is not None
        else f"start measurement {project.start_measured_on} ({(project.start_plots_digest or '')[:12]})"
    )
    if float(strata["area_ha"].sum()) > project.area_ha * 1.01:
        raise ProjectError(
            f"各层面积之和 {strata['area_ha'].sum():,.1f} 公顷超过项目面积 {project.area_ha:,.1f} 公顷。",
            f"the strata add up to {strata['area_ha'].sum():,.1f} ha, more than the project's {project.area_ha:,.1f} ha.",
        )
    record = catalogue.methodology(project.methodology)
    change = estimate_change(start_trees, start_strata, trees, strata, project.methodology,
                             exclude_pre_existing=record.excludes_pre_existing_trees)  # fmt: skip
    result = change.end
    by_year = pd.DataFrame(json.loads(project.exante_json or "{}").get("by_year", []))
    covered = (
        by_year[
            (by_year["year"] >= start.year)
            & (by_year["year"] <= end.year - (0 if (end.month, end.day) == (12, 31) else 1))
        ]
        if len(by_year)
        else by_year
    )
    baseline = float(covered["baseline_change"].sum()) if len(covered) else 0.0
    exante_net = float(covered["net_removals"].sum()) if len(covered) else 0.0
    removals = change.conservative_change_tco2e - baseline
    years = ((end - start).days + 1) / 365.25
    flags = check_period(
        area_by_group=_area_by_group(trees, strata), years=years,
        project_change_tco2e=change.change_tco2e, net_removals_tco2e=removals,
        exante_net_tco2e=exante_net, factor=plausibility_factor,
    )  # fmt: skip
    digest = plots_digest(trees, strata)
    u = change.uncertainty if np.isfinite(change.uncertainty) else None
    assert project.id is not None
    period = MonitoringPeriod(
        project_id=project.id, period_no=len(periods(session, project)) + 1, start_date=start,
        end_date=end, plots_digest=digest,
        plots_csv=trees.to_csv(index=False),
        strata_csv=strata.to_csv(index=False), stock_tco2e=result.estimate_tco2e,
        uncertainty=result.uncertainty if np.isfinite(result.uncertainty) else -1.0,
        conservative_stock_tco2e=result.conservative_tco2e,
        baseline_tco2e=baseline, leakage_tco2e=0.0, removals_tco2e=removals,
        change_tco2e=change.change_tco2e, change_uncertainty=u,
        flags_json=json.dumps([f.to_dict() for f in flags], ensure_ascii=False),
        provenance_json=json.dumps({
            "change": change.trace.to_dict(), "method": change.method,
            "start": start_source, "start_stock_tco2e": change.start.estimate_tco2e,
            "end_stock_tco2e": change.end.estimate_tco2e,
            "change_tco2e": change.change_tco2e, "change_half_width_tco2e": change.half_width_tco2e,
            "change_df": change.df, "change_uncertainty": u,
            "deduction_fraction": change.deduction.fraction,
            "conservative_change_tco2e": change.conservative_change_tco2e,
            "pre_existing_tco2e": {"start": change.start.pre_existing_tco2e,
                                   "end": change.end.pre_existing_tco2e},
            "strata": result.strata.to_dict(orient="records"),
            "baseline_years": covered["year"].tolist() if len(covered) else [],
            "exante_net_tco2e": exante_net,
            "unverified_parameters": [p.name for p in change.trace.unverified()],
        }, ensure_ascii=False, default=str),
        status=PeriodStatus.SUBMITTED.value,
    )  # fmt: skip
    session.add(period)
    project.status = S.MONITORED.value
    record_event(session, project, actor, "monitor", before.value, "",
            {"period": period.period_no, "start": start.isoformat(), "end": end.isoformat(),
             "removals_tco2e": round(removals, 3), "change_tco2e": round(change.change_tco2e, 3),
             "change_uncertainty": None if u is None else round(u, 4), "method": change.method,
             "flags": [f.kind for f in flags], "plots_digest": digest})  # fmt: skip
    return period


def verify_period(
    session: Session, actor: Actor, code: str, quantity: float, comments: str = "",
    override_reason: str = "",
) -> MonitoringPeriod:  # fmt: skip
    """The verifier approves a quantity (t CO2e) ≤ the computed removals of the open period.

    A period the plausibility gate flagged is refused unless ``override_reason`` says why the
    verifier accepts it; the override, the flags and the reason go into the audit event.
    """
    project = lock_project(session, code)
    before = ProjectStatus(project.status)
    check_action(project, actor, "verify", TRANSITIONS["verify"], before)
    period = open_period(session, project)
    if not 0 <= quantity <= period.removals_tco2e:
        raise ProjectError(
            f"核证量 {quantity:,.3f} t CO2e 须在 0 与计算的净碳汇 {period.removals_tco2e:,.3f} t CO2e（已扣除不确定性）之间。",
            f"the verified quantity {quantity:,.3f} t CO2e must lie between 0 and the computed net "
            f"removals {period.removals_tco2e:,.3f} t CO2e (after the uncertainty deduction).",
        )
    flags = json.loads(period.flags_json or "[]")
    if flags and not override_reason.strip():
        raise FlaggedPeriod(
            f"监测期 {period.period_no} 未通过合理性检查，核证须写明理由（--override-reason）："
            + "；".join(f["message_zh"] for f in flags),
            f"monitoring period {period.period_no} is flagged; verifying it needs an explicit "
            "override with a reason (--override-reason): "
            + "; ".join(f["message_en"] for f in flags),
        )
    period.status = PeriodStatus.VERIFIED.value
    period.verified_tco2e = quantity
    period.verifier = actor.name
    period.verified_at = now()
    period.comments = comments
    period.override_reason = override_reason.strip() or None
    project.status = S.VERIFIED.value
    payload: dict[str, Any] = {"period": period.period_no, "verified_tco2e": quantity}
    if flags:
        payload |= {"override_reason": override_reason.strip(), "flags": flags}
    record_event(session, project, actor, "verify", before.value, comments, payload)
    return period
