"""Carbon-sink projects: stands, eligibility, the double-counting guard, the lifecycle,
monitoring periods and verification — split along those seams:

- :mod:`.core`: who acts, the lifecycle table (:data:`TRANSITIONS`), the row lock, role checks
  and the history record;
- :mod:`.membership`: a project's stands and the double-counting guard;
- :mod:`.evidence` and :mod:`.checks`: applicability evidence and the per-stand report;
- :mod:`.lifecycle`: create, assess the risk, submit, validate, register (the ex-ante freezes),
  issue, reject;
- :mod:`.monitoring`: the start measurement, monitoring periods and verification;
- :mod:`.views`: the summary and the frozen ex-ante.

The lifecycle is an explicit state machine: each action names the states it may start from,
the state it leads to and the roles allowed to take it. Every action runs in one transaction
with a project history row and an audit event; a refusal changes nothing. A stand key belongs
to at most one active project membership — checked here (naming both projects) and guarded by
a partial unique index in the database (migration 0003).
"""

from registry.errors import (
    DoubleCounting,
    FlaggedPeriod,
    InvalidTransition,
    NotEligible,
    PermissionDenied,
    ProjectError,
)
from registry.projects.checks import check_project
from registry.projects.core import TRANSITIONS, Actor, require_role
from registry.projects.evidence import add_evidence, project_evidence
from registry.projects.lifecycle import assess_risk, create_project, transition
from registry.projects.membership import add_stands, project_stands, remove_stands
from registry.projects.monitoring import record_start_measurement, submit_monitoring, verify_period
from registry.projects.views import frozen_exante, project_summary

__all__ = [
    "TRANSITIONS",
    "Actor",
    "DoubleCounting",
    "FlaggedPeriod",
    "InvalidTransition",
    "NotEligible",
    "PermissionDenied",
    "ProjectError",
    "add_evidence",
    "add_stands",
    "assess_risk",
    "check_project",
    "create_project",
    "frozen_exante",
    "project_evidence",
    "project_stands",
    "project_summary",
    "record_start_measurement",
    "remove_stands",
    "require_role",
    "submit_monitoring",
    "transition",
    "verify_period",
]
