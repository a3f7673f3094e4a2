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
    """Each stand's modelled project stock (t CO2e) at the end of the year before ``on`` — the
    earliest modelled year if ``on`` falls before it, the last if after — and that year."""
    from registry.projects.lifecycle import ex_ante

    result, _ = ex_ante(session, project)
    years = np.asarray(result.years)
    column = int(np.clip(np.searchsorted(years, on.year - 1), 0, len(years) - 1))
    stock = np.asarray(result.project_stock)[:, column]
    ids = (str(s) for s in result.stand_ids)
    return dict(zip(ids, (float(v) for v in stock), strict=True)), int(years[column])
