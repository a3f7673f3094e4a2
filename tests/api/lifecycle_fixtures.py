"""Projects at each step of their lifecycle, for the role tables (the API's and the command
line's): every lifecycle action has a project in the state it acts on, and a verifier has
projects of its own organisation to be refused on.

On top of :func:`tests.api.api_fixtures.api_registry` (L1 verified; the users), forest
management projects (AR-CM-003-V01) of planted young and middle-aged Chinese fir, one township
each — stands no other row of the tables selects:

- ``D-li``, ``D-director``: drafts with their evidence, ready to be submitted;
- ``D-VER2``: developed by the verifier's own organisation, submitted (validation refused);
- ``D-VER``: developed by the verifier's own organisation, validated by another organisation's
  verifier and registered (its start measurement and monitoring follow in the tables; its
  verification is refused).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from registry.actors import Actor
from registry.db import session_scope
from registry.projects import project_stands, transition
from registry.synthetic_plots import synthetic_evidence
from registry.vocabulary import Role
from tests.api.api_fixtures import api_registry
from tests.registry.project_fixtures import (
    ADMIN,
    STAFF,
    TOLERANCE_M2,
    draft,
    remeasured,
    write_plot_workbook,
)
from tests.registry.user_fixtures import USERS

__all__ = ["METHODOLOGY", "VERIFIER_ORG", "evidence_file", "lifecycle_registry", "plot_books"]

METHODOLOGY = "AR-CM-003-V01"
VERIFIER_ORG = USERS["auditor"][0]  # the test verifier's organisation
PROJECTS = {  # code → (township of its Chinese fir stands, developer)
    "D-li": ("五里牌镇", "双牌县林业局"),
    "D-director": ("茶林镇", "双牌县林业局"),
    "D-VER": ("江村镇", VERIFIER_ORG),
    "D-VER2": ("何家洞镇", VERIFIER_ORG),
}
# a verifier of another organisation (the services check roles on the actor they are given)
OTHER_VERIFIER = Actor.of("赵工", Role.VERIFIER, "另一审定核证机构", "verifier")


def lifecycle_registry(engine: Engine, folder: Path) -> None:
    """The scenario: :func:`api_registry` and the projects above."""
    api_registry(engine, folder)
    for code, (township, developer) in PROJECTS.items():
        selection = f"species_group=chinese_fir,origin=人工,township={township}"
        draft(engine, code, METHODOLOGY, selection, developer=developer)
    with session_scope(engine) as s:
        transition(s, STAFF, "D-VER2", "submit", tolerance_m2=TOLERANCE_M2)
        transition(s, STAFF, "D-VER", "submit", tolerance_m2=TOLERANCE_M2)
        transition(s, OTHER_VERIFIER, "D-VER", "validate")
        transition(s, ADMIN, "D-VER", "register")


def plot_books(engine: Engine, folder: Path, code: str) -> tuple[Path, Path]:
    """The permanent plots of ``code`` measured at the start (2026) and remeasured a year on,
    as workbooks (start, end)."""
    with session_scope(engine) as s:
        stands = project_stands(s, code)
    first, last, strata = remeasured(engine, stands, METHODOLOGY, 1)
    return (write_plot_workbook(first, strata, folder / f"{code}-start.xlsx"),
            write_plot_workbook(last, strata, folder / f"{code}-end.xlsx"))  # fmt: skip


def evidence_file(folder: Path) -> Path:
    """Applicability evidence for any draft of :data:`METHODOLOGY` (the declarations)."""
    path = folder / "evidence.csv"
    synthetic_evidence(METHODOLOGY, [], date(2026, 1, 1)).to_csv(path, index=False)
    return path
