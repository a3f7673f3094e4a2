"""Per-stand modelled figures of a project from its ex-ante (the project's methodology and the
registry's growth curves, ``registry.projects.lifecycle.ex_ante``), shared by the payment rosters
(``registry.compensation.rosters``: the verified total apportioned to the stands) and the
reversals (``registry.remote_sensing.losses``: a stand's credited removals and stock)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np
from sqlalchemy.orm import Session

from registry.models import MonitoringPeriod, Project

__all__ = ["modelled_removals", "modelled_stock"]


def modelled_removals(
    session: Session, project: Project, period: MonitoringPeriod
) -> dict[str, Fraction]:
    """Each stand's modelled net removals over the period's calendar years (t CO2e, ≥ 0:
    a negative sum counts as zero)."""
    from registry.projects.lifecycle import ex_ante

    result, _ = ex_ante(session, project)
    years = np.asarray(result.years)
    inside = (years >= period.start_date.year) & (years <= period.end_date.year)
    sums = np.asarray(result.net_removals)[:, inside].sum(axis=1)
    return {
        str(s): Fraction(max(float(v), 0.0)) for s, v in zip(result.stand_ids, sums, strict=True)
    }


def modelled_stock(session: Session, project: Project, on: date) -> tuple[dict[str, float], int]:
    """Each stand's modelled project stock (t CO2e) at the end of the year before ``on``, and
    that year. The end of the year before the first modelled year is the starting stock
    (the first year's stock less its change); a year outside the model (before the start or
    after the last modelled year) is refused — never clipped to the nearest year."""
    from registry.errors import Invalid
    from registry.projects.lifecycle import ex_ante

    result, _ = ex_ante(session, project)
    years = np.asarray(result.years)
    stocks = np.asarray(result.project_stock)
    wanted = on.year - 1
    first, last = int(years[0]), int(years[-1])
    if wanted == first - 1:
        stock = stocks[:, 0] - np.asarray(result.project_change)[:, 0]
    elif first <= wanted <= last:
        stock = stocks[:, int(np.searchsorted(years, wanted))]
    else:
        raise Invalid(
            f"项目 {project.code} 的事前估算只覆盖 {first - 1}–{last} 年末的蓄积，"
            f"没有 {wanted} 年末（{on} 的前一年）的数值。",
            f"project {project.code}'s ex-ante covers stocks at the ends of {first - 1}–{last}, "
            f"not the end of {wanted} (the year before {on}).",
        )
    ids = (str(s) for s in result.stand_ids)
    return dict(zip(ids, (float(v) for v in stock), strict=True)), wanted
