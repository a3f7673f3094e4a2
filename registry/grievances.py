"""Grievances on projects (申诉与意见): anyone may send one from a project's public page; bureau
staff (and the registry's admins) read and answer them. Nothing of a grievance is public.

Every change writes an audit event in the same transaction. The event holds the grievance's
id, its project, its status and a SHA-256 digest of what was written — not the sender's name,
contact or message: the audit log is append-only and read by verifiers too, and personal data
must stay deletable from the ``grievance`` table alone. The digest still proves later that the
stored text is the text received (``grievance_digest``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event, canonical_json
from registry.db import DriverSQL
from registry.errors import Conflict, Invalid, NotFound
from registry.listings import STAFF_ROLES
from registry.projects.core import find_project
from registry.results import Result
from registry.web_tables import GRIEVANCE_STATUSES

__all__ = [
    "ANONYMOUS_SENDER",
    "LIMITS",
    "GrievanceView",
    "answer_grievance",
    "grievance_digest",
    "grievances",
    "submit_grievance",
]

ANONYMOUS_SENDER = "public@web"
"""How the audit log names the sender of a grievance (someone from the public web page)."""

LIMITS = {"name": 100, "contact": 200, "message": 5000, "answer": 5000}
"""The longest text (characters) of each field."""

_FIELDS = {"name": ("姓名", "name"), "contact": ("联系方式", "contact"),
           "message": ("内容", "message"), "answer": ("答复", "answer")}  # fmt: skip


class UnknownGrievance(NotFound):
    """No grievance with that id (on that project)."""


class GrievanceClosed(Conflict):
    """A closed grievance is not answered again."""


@dataclass(frozen=True)
class GrievanceView(Result):
    """A grievance as bureau staff see it (times ISO 8601 UTC)."""

    id: int
    project: str
    submitted_at: str
    name: str
    contact: str | None
    message: str
    status: str
    answer: str | None
    answered_by: str | None
    answered_at: str | None


def grievance_digest(*texts: str | None) -> str:
    """SHA-256 (hex) of the canonical JSON of ``texts``: what the audit event keeps of them."""
    return hashlib.sha256(canonical_json(list(texts)).encode()).hexdigest()


def _text(field: str, value: str | None, required: bool) -> str | None:
    clean = (value or "").strip()
    zh, en = _FIELDS[field]
    if not clean:
        if required:
            raise Invalid(f"请填写{zh}。", f"the {en} is missing.")
        return None
    if len(clean) > LIMITS[field]:
        raise Invalid(
            f"{zh}过长：{len(clean)} 个字符，最多 {LIMITS[field]} 个。",
            f"the {en} is too long: {len(clean)} characters, {LIMITS[field]} at most.",
        )
    if any(ord(c) < 32 and c not in "\n\r\t" for c in clean):
        raise Invalid(f"{zh}含有控制字符。", f"the {en} holds control characters.")
    return clean


def _now() -> datetime:
    return datetime.now(UTC)


def submit_grievance(
    session: Session, project_code: str, name: str, contact: str | None, message: str
) -> int:
    """Store a grievance on project ``project_code`` (refused: an unknown project, a missing
    name or message, a field over :data:`LIMITS`) and audit it; returns its id."""
    project = find_project(session, project_code)
    clean_name = _text("name", name, required=True)
    clean_contact = _text("contact", contact, required=False)
    clean_message = _text("message", message, required=True)
    db = DriverSQL(session)
    row = db.first(
        "INSERT INTO grievance (project_code, submitted_at, name, contact, message, status) "
        "VALUES (:p, :at, :n, :c, :m, 'open') RETURNING id",
        {"p": project.code, "at": _now(), "n": clean_name, "c": clean_contact, "m": clean_message},
    )
    assert row is not None
    grievance_id = int(row[0])
    append_event(
        session, actor=ANONYMOUS_SENDER, action="grievance.submitted", entity_type="grievance",
        entity_id=str(grievance_id),
        payload={"project": project.code, "status": "open",
                 "digest": grievance_digest(clean_name, clean_contact, clean_message)},
    )  # fmt: skip
    return grievance_id


def _view(row: tuple[object, ...]) -> GrievanceView:
    def when(value: object) -> str | None:
        return None if value is None else str(value)

    return GrievanceView(
        int(str(row[0])), str(row[1]), str(when(row[2])), str(row[3]),
        None if row[4] is None else str(row[4]), str(row[5]), str(row[6]),
        None if row[7] is None else str(row[7]), None if row[8] is None else str(row[8]),
        when(row[9]),
    )  # fmt: skip


_COLUMNS = ("id, project_code, submitted_at, name, contact, message, status, answer, answered_by, "
            "answered_at")  # fmt: skip


def grievances(session: Session, actor: Actor, project_code: str) -> list[GrievanceView]:
    """The grievances on a project, newest first (bureau staff and admins only)."""
    require_any_role(actor, STAFF_ROLES, "查看申诉与意见 / read grievances")
    project = find_project(session, project_code)
    rows = DriverSQL(session).rows(
        f"SELECT {_COLUMNS} FROM grievance WHERE project_code = :p ORDER BY id DESC",
        {"p": project.code},
    )
    return [_view(r) for r in rows]


def answer_grievance(
    session: Session, actor: Actor, project_code: str, grievance_id: int, answer: str,
    status: str = "answered",
) -> GrievanceView:  # fmt: skip
    """Answer a grievance (bureau staff and admins) and set its status (``answered`` or
    ``closed``); a closed grievance is not answered again. Audited in the same transaction."""
    require_any_role(actor, STAFF_ROLES, "答复申诉与意见 / answer grievances")
    if status not in GRIEVANCE_STATUSES or status == "open":
        raise Invalid(
            f"状态 {status!r} 无效，应为 answered 或 closed。",
            f"bad status {status!r}: answered or closed.",
        )
    clean = _text("answer", answer, required=True)
    db = DriverSQL(session)
    row = db.first(
        "SELECT status FROM grievance WHERE id = :i AND project_code = :p"
        + (" FOR UPDATE" if db.postgres else ""),
        {"i": grievance_id, "p": project_code},
    )
    if row is None:
        raise UnknownGrievance(
            f"项目 {project_code} 没有编号为 {grievance_id} 的申诉。",
            f"project {project_code} has no grievance {grievance_id}.",
        )
    if row[0] == "closed":
        raise GrievanceClosed(
            f"申诉 {grievance_id} 已关闭，不能再答复。",
            f"grievance {grievance_id} is closed: it is not answered again.",
        )
    db.rows(
        "UPDATE grievance SET answer = :a, answered_by = :b, answered_at = :at, status = :s "
        "WHERE id = :i",
        {"a": clean, "b": actor.label, "at": _now(), "s": status, "i": grievance_id},
    )
    append_event(
        session, actor=actor.label, action="grievance.answered", entity_type="grievance",
        entity_id=str(grievance_id),
        payload={"project": project_code, "from": row[0], "status": status,
                 "digest": grievance_digest(clean)},
    )  # fmt: skip
    found = db.first(f"SELECT {_COLUMNS} FROM grievance WHERE id = :i", {"i": grievance_id})
    assert found is not None
    return _view(found)
