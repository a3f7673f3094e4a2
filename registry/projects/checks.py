"""The applicability and double-counting report of a project, stand by stand and rule by rule."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from methodologies import catalogue
from registry.projects.core import lock_project, stands_of
from registry.projects.evidence import project_evidence
from registry.projects.membership import conflicts

__all__ = ["check_project"]


def check_project(session: Session, code: str, tolerance_m2: float) -> pd.DataFrame:
    """Eligibility and double-counting report: one row per stand and rule, with its source."""
    project = lock_project(session, code)
    stands = stands_of(session, project)
    report = catalogue.check_eligibility(
        project.methodology, stands, project.start_date.year,
        project.planted_group or "chinese_fir", project_evidence(session, project),
        project.start_date,
    )  # fmt: skip
    found = conflicts(session, project, stands["stand_id"].tolist(), tolerance_m2)
    rows = [
        (c["stand"], "no_double_counting", False,
         f"与项目 {c['other_project']} 的小班 {c['other_stand']} 冲突",
         f"conflicts with stand {c['other_stand']} of project {c['other_project']}",
         "registry: one stand, one project")
        for c in found
    ]  # fmt: skip
    if rows:
        report = pd.concat([report, pd.DataFrame(rows, columns=report.columns)], ignore_index=True)
    return report
