"""The quantities of a confirmed loss (reversal) of a stand, equations R1–R6 (issue #19):

- R1 ``f = min(f_det, 1 − Σ f_prev)``: ``f_det`` the stand's disturbed share (disturbed area /
  stand area, from the detection), ``Σ f_prev`` the shares of the stand's confirmed reversals —
  a stand never loses more than all of itself, so re-detections of one loss cannot add up past
  1; nothing remaining (``1 − Σ f_prev ≤ 1e-9``) is refused.
- R2 physical stock lost ``L_phys = f × S`` (t CO2e), ``S`` the stand's modelled project stock at
  the end of the year before the event (the starting stock for an event in the first year; a
  year outside the model is refused, never clipped) — ``registry.projects.removals.modelled_stock``.
- R3 credited removals of the stand up to the event ``C = Σ_p w_p × V_p × m_sp / M_p`` (t CO2e)
  over the verified periods ``p``: ``V_p`` the verified t CO2e, ``m_sp`` the stand's modelled net
  removals over the period's years, ``M_p`` the project's (the payment rosters' apportionment,
  ``registry.projects.removals.modelled_removals``); ``w_p`` counts only what was credited up to
  the event, linear in time: 1 for a period ending on or before the event, the share of the
  period's days (inclusive) up to and including the event for a period containing it, 0 for a
  period starting after it.
- R4 reversal ``L = min(f × C, C − Σ L_prev)`` (t CO2e): the credited part of the loss; with
  ``Σ L_prev`` the stand's confirmed reversals, its credited losses never exceed its credited
  removals.
- R5 ``U = √(U_area² + U_change²)`` (relative, 90 % half-width): ``U_area`` the stand's
  ``area_u`` (edge pixels counted half in or out), ``U_change`` the latest verified period's
  ``change_uncertainty`` (0, with a note, when absent) — the propagation of relative
  uncertainties of a product, IPCC 2006 Guidelines Vol. 1 Ch. 3 Eq. 3.1.
- R6 credits to cancel ``Q = ⌈L × (1 + U) − 1e-9⌉`` (credits of 1 t CO2e): conservative, the
  loss is not under-stated; the 1e-9 keeps a float product such as 30.000000000000004 at 30.

Pure functions first (tested by hand), then :func:`stand_loss`, the database read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.errors import Invalid
from registry.models import MonitoringPeriod, Project
from registry.vocabulary import PeriodStatus

__all__ = [
    "EQUATIONS",
    "LossEstimate",
    "PeriodShare",
    "combined_uncertainty",
    "credited_removals",
    "credits_to_cancel",
    "effective_share",
    "estimate_loss",
    "physical_loss",
    "reversal_loss",
    "share_up_to",
    "stand_loss",
]

EQUATIONS = {
    "R1": "f = min(f_det, 1 − Σ f_prev) (f_det = disturbed area / stand area; Σ f_prev: the "
    "stand's confirmed reversals)",
    "R2": "L_phys = f × S (S: modelled project stock, end of the year before the event)",
    "R3": "C = Σ_p w_p × V_p × m_sp / M_p (verified periods; w_p = 1 if the period ends on or "
    "before the event, its share of days up to the event if it contains it — linear in time —, "
    "0 if it starts after it)",
    "R4": "L = min(f × C, C − Σ L_prev) (Σ L_prev: the stand's confirmed reversals)",
    "R5": "U = sqrt(U_area² + U_change²) (IPCC 2006 GL Vol. 1 Ch. 3 Eq. 3.1)",
    "R6": "Q = ceil(L × (1 + U) − 1e-9)",
}
EPSILON = 1e-9


@dataclass(frozen=True)
class PeriodShare:
    """One verified period's part of R3: ``verified`` V_p, ``stand_modelled`` m_sp and
    ``project_modelled`` M_p (t CO2e), ``weight`` w_p (0..1, the part credited by the event)."""

    period_no: int
    verified: float
    stand_modelled: float
    project_modelled: float
    weight: float = 1.0


@dataclass(frozen=True)
class LossEstimate:
    """A loss by R1–R6 (t CO2e; uncertainties relative; ``quantity`` in credits)."""

    f: float
    stock: float
    stock_year: int | None
    l_phys: float
    credited: float
    loss: float
    u_area: float
    u_change: float
    u: float
    quantity: int
    periods: tuple[PeriodShare, ...]
    notes: tuple[str, ...]
    f_detected: float = 0.0
    f_prior: float = 0.0
    loss_prior: float = 0.0

    def equations(self) -> dict[str, Any]:
        """The equations with their numbers, as stored with the reversal and its audit event."""
        return {
            "equations": EQUATIONS,
            "R1": {"f_det": self.f_detected, "sum_f_prev": self.f_prior, "f": self.f},
            "R2": {"S": self.stock, "S_year_end": self.stock_year, "L_phys": self.l_phys},
            "R3": {"C": self.credited, "periods": [
                {"period_no": p.period_no, "w_p": p.weight, "V_p": p.verified,
                 "m_sp": p.stand_modelled, "M_p": p.project_modelled} for p in self.periods]},
            "R4": {"sum_L_prev": self.loss_prior, "L": self.loss},
            "R5": {"U_area": self.u_area, "U_change": self.u_change, "U": self.u},
            "R6": {"Q": self.quantity},
            "L_phys ±": self.l_phys * self.u,
            "L ±": self.loss * self.u,
            "notes": list(self.notes),
        }  # fmt: skip


def _share(f: float) -> float:
    if not (math.isfinite(f) and 0.0 <= f <= 1.0):
        raise Invalid(
            f"受扰比例 f = {f} 不在 0–1 之间。", f"disturbed share f = {f} is not in 0–1."
        )
    return f


def physical_loss(f: float, stock: float) -> float:
    """R2: ``L_phys = f × S`` (t CO2e); ``f`` 0..1, ``S`` t CO2e."""
    return _share(f) * stock


def credited_removals(periods: tuple[PeriodShare, ...] | list[PeriodShare]) -> float:
    """R3: ``C = Σ_p w_p × V_p × m_sp / M_p`` (t CO2e); a period whose project total M_p is 0
    credits no stand (nothing can be apportioned)."""
    return sum(
        (p.weight * p.verified * p.stand_modelled / p.project_modelled for p in periods
         if p.project_modelled > 0),
        0.0,
    )  # fmt: skip


def share_up_to(start: date, end: date, event: date) -> float:
    """R3's ``w_p`` of the period ``start``–``end`` (inclusive) for an event on ``event``:
    1 when the period ends on or before the event, 0 when it starts after it, else the share
    of its days up to and including the event (linear in time)."""
    if end <= event:
        return 1.0
    if start > event:
        return 0.0
    return ((event - start).days + 1) / ((end - start).days + 1)


def effective_share(f_detected: float, f_prior: float) -> float:
    """R1: ``f = min(f_det, 1 − Σ f_prev)``; nothing remaining is refused."""
    remaining = 1.0 - f_prior
    if remaining <= EPSILON:
        raise Invalid(f"该小班已确认的逆转比例合计 {f_prior:.4f}，已无剩余可逆转（R1）。",
                      f"the stand's confirmed reversals already add up to a share of "
                      f"{f_prior:.4f}: nothing remains to reverse (R1).")  # fmt: skip
    return min(_share(f_detected), remaining)


def reversal_loss(f: float, credited: float, loss_prior: float = 0.0) -> float:
    """R4: ``L = min(f × C, C − Σ L_prev)`` (t CO2e, never below 0)."""
    return max(min(_share(f) * credited, credited - loss_prior), 0.0)


def combined_uncertainty(u_area: float, u_change: float) -> float:
    """R5: ``U = √(U_area² + U_change²)`` (relative), IPCC 2006 GL Vol. 1 Ch. 3 Eq. 3.1."""
    for u in (u_area, u_change):
        if not (math.isfinite(u) and u >= 0.0):
            raise Invalid(f"不确定度 {u} 必须 ≥ 0。", f"an uncertainty {u} must be ≥ 0.")
    return math.sqrt(u_area**2 + u_change**2)


def credits_to_cancel(loss: float, u: float) -> int:
    """R6: ``Q = ⌈L × (1 + U) − 1e-9⌉`` credits (conservative; never below 0)."""
    return max(math.ceil(loss * (1.0 + u) - EPSILON), 0)


def estimate_loss(
    f: float, stock: float, periods: tuple[PeriodShare, ...], u_area: float,
    u_change: float | None, stock_year: int | None = None, f_prior: float = 0.0,
    loss_prior: float = 0.0,
) -> LossEstimate:  # fmt: skip
    """R1–R6 from their inputs (``f`` the detected share; ``f_prior`` / ``loss_prior`` the
    stand's confirmed reversals' shares and losses; ``u_change`` None: no verified change
    uncertainty, taken as 0 with a note)."""
    f_detected = _share(f)
    f = effective_share(f_detected, f_prior)
    notes: list[str] = []
    if u_change is None:
        notes.append("最近核证期无变化量不确定度，按 0 计 / the latest verified period has no "
                     "change uncertainty: taken as 0")  # fmt: skip
        u_change = 0.0
    l_phys = physical_loss(f, stock)
    credited = credited_removals(periods)
    loss = reversal_loss(f, credited, loss_prior)
    u = combined_uncertainty(u_area, u_change)
    return LossEstimate(f, stock, stock_year, l_phys, credited, loss, u_area, u_change, u,
                        credits_to_cancel(loss, u), tuple(periods), tuple(notes), f_detected,
                        f_prior, loss_prior)  # fmt: skip


def stand_loss(
    session: Session, project: Project, stand_key: str, f: float, u_area: float, event: date,
    f_prior: float = 0.0, loss_prior: float = 0.0,
) -> LossEstimate:  # fmt: skip
    """R1–R6 for a stand of ``project``: S from the ex-ante at the end of the year before
    ``event``, C over the project's verified periods up to ``event``, U_change of the latest
    verified one; ``f_prior`` / ``loss_prior`` the stand's confirmed reversals."""
    from registry.projects.removals import modelled_removals, modelled_stock

    stocks, year = modelled_stock(session, project, event)
    if stand_key not in stocks:
        raise Invalid(f"小班 {stand_key} 不在项目 {project.code} 的事前估算中。",
                      f"stand {stand_key} is not in project {project.code}'s ex-ante.")  # fmt: skip
    verified = list(session.execute(
        select(MonitoringPeriod).where(col(MonitoringPeriod.project_id) == project.id)
        .where(col(MonitoringPeriod.status) == PeriodStatus.VERIFIED.value)
        .order_by(col(MonitoringPeriod.period_no))
    ).scalars())  # fmt: skip
    shares = []
    for period in verified:
        modelled = modelled_removals(session, project, period)
        shares.append(PeriodShare(
            period.period_no, float(period.verified_tco2e or 0.0),
            float(modelled.get(stand_key, 0)), float(sum(modelled.values())),
            share_up_to(period.start_date, period.end_date, event),
        ))  # fmt: skip
    u_change = verified[-1].change_uncertainty if verified else None
    return estimate_loss(f, stocks[stand_key], tuple(shares), u_area, u_change, year, f_prior,
                         loss_prior)  # fmt: skip
