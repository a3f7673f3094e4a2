"""The document store (项目文件): every file the registry generates is kept with its SHA-256, and
its audit event ``document.generated`` — written in the same transaction as the row — carries
the same hash, so that a verifier who receives a file can ask the registry whether it issued it.

- :func:`build_files` (admin, bureau staff; reads only): builds a project's design document
  (``pdd``), a monitoring period's report (``monitoring_report``) or its workbook
  (``workbook``) and renders it in the formats asked (Word, PDF, Excel);
  :func:`store_files` stores each file (a short write transaction); :func:`generate_documents`
  does both in one.
- :func:`store_document`: one file, its row and its audit event.
- :func:`audience_for`: a document is public when the project is registered (or further on);
  a draft project's documents are for staff only. Workbooks stay with staff (they may hold
  the compensation roster). "Staff" here is bureau staff and the verification bodies, who
  read (not generate) them: the workbooks are written for the verifier.
- :func:`list_documents`, :func:`get_document`: what a viewer may see and download.
- :func:`verify_document`: which registry document a file is (kind, project, period, generated
  when and by whom, the audit event that recorded it), or that the registry never issued it —
  one changed byte makes it unknown.

The builders (``registry.documents.pdd.build_pdd``, ``registry.documents.monitoring_report.
build_monitoring_report``, ``registry.documents.workbook.build_workbook``) and the Word renderer
(``registry.documents.docx_render.render_docx``) are imported where they are used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import GENESIS_HASH, append_event, event_hash
from registry.db import DriverSQL
from registry.documents.tables import DOCUMENT_FORMATS, DOCUMENT_KINDS
from registry.errors import BadDocumentRequest, DocumentNotFound, DocumentTampered
from registry.results import Result
from registry.vocabulary import ProjectStatus, Role

if TYPE_CHECKING:
    from registry.documents.model import Document

__all__ = [
    "FORMATS_OF",
    "GENERATORS",
    "BuiltFile",
    "DocumentInfo",
    "Verification",
    "audience_for",
    "build_files",
    "generate_documents",
    "get_document",
    "list_documents",
    "sha256_hex",
    "store_document",
    "store_files",
    "verify_document",
]

GENERATORS = (Role.ADMIN, Role.BUREAU_STAFF)
# the formats each kind can be written in, the first the default
FORMATS_OF = {"pdd": ("docx", "pdf"), "monitoring_report": ("docx", "pdf"), "workbook": ("xlsx",)}
PUBLIC_STATUSES = frozenset({ProjectStatus.REGISTERED, ProjectStatus.MONITORED,
                             ProjectStatus.VERIFIED, ProjectStatus.ISSUED})  # fmt: skip
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
KIND_NAMES = {"pdd": "项目设计文件 design document", "monitoring_report": "监测报告 monitoring report",
              "workbook": "计算工作簿 workbook"}  # fmt: skip
_COLUMNS = ("id, kind, project_code, period_no, format, file_name, sha256, size_bytes, audience, "
            "generated_by, generated_at")  # fmt: skip


@dataclass(frozen=True)
class DocumentInfo(Result):
    """A stored document, without its bytes."""

    id: int
    kind: str
    project: str
    period: int | None
    format: str
    file_name: str
    sha256: str
    size_bytes: int
    audience: str
    generated_by: str
    generated_at: str
    audit_seq: int | None = None
    audit_hash: str | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


@dataclass(frozen=True)
class Verification(Result):
    """What the registry knows of a file: ``document`` when it issued it (and the audit event
    that recorded its hash agrees), otherwise None."""

    sha256: str
    size_bytes: int
    issued: bool
    document: DocumentInfo | None
    message_zh: str
    message_en: str
    audit_seq: int | None = None  # the document.generated event that recorded this hash


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def audience_for(kind: str, status: str) -> str:
    """``public`` for the design document and monitoring reports of a registered (or later)
    project; ``staff`` for a draft's (submitted, validated) and for every workbook."""
    if kind == "workbook":
        return "staff"
    return "public" if status in PUBLIC_STATUSES else "staff"


def _timestamp(value: object) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def _info(row: tuple[object, ...], audit: tuple[int, str] | None = None) -> DocumentInfo:
    period = row[3]
    return DocumentInfo(
        id=int(str(row[0])), kind=str(row[1]), project=str(row[2]),
        period=None if period is None else int(str(period)), format=str(row[4]),
        file_name=str(row[5]), sha256=str(row[6]), size_bytes=int(str(row[7])),
        audience=str(row[8]), generated_by=str(row[9]), generated_at=_timestamp(row[10]),
        audit_seq=None if audit is None else audit[0], audit_hash=None if audit is None else audit[1],
    )  # fmt: skip


def _audit_of(db: DriverSQL, doc_id: int) -> tuple[int, str, str] | None:
    """The ``document.generated`` event of a row: its sequence number, hash and payload."""
    row = db.first(
        "SELECT id, hash, payload FROM audit_event WHERE action = 'document.generated' "
        "AND entity_type = 'document' AND entity_id = :e",
        {"e": str(doc_id)},
    )
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


_EVENT_COLUMNS = "id, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash, hash"


def _event_in_chain(db: DriverSQL, seq: int) -> bool:
    """Whether audit event ``seq`` is a sound link of the hash chain: its stored hash is the one
    recomputed from its own fields (``registry.audit.event_hash``), its ``prev_hash`` is the
    stored hash of event ``seq − 1`` (64 zeros for the first), whose own hash recomputes too,
    the next event (if any) links to it, and the chain head is at or past it. An event written
    around the log (with any hash) fails one of these."""
    head = db.first("SELECT seq FROM audit_head WHERE id = 1")
    if head is None or int(head[0]) < seq:
        return False
    rows = {
        int(r[0]): r
        for r in db.rows(
            f"SELECT {_EVENT_COLUMNS} FROM audit_event WHERE id BETWEEN :a AND :b",
            {"a": seq - 1, "b": seq + 1},
        )
    }

    def sound(r: tuple[object, ...]) -> bool:
        fields = [str(v) for v in r[1:8]]
        return event_hash(int(str(r[0])), *fields) == str(r[8])

    event = rows.get(seq)
    if event is None or not sound(event):
        return False
    before = rows.get(seq - 1)
    if seq == 1:
        linked = str(event[7]) == GENESIS_HASH
    else:
        linked = before is not None and sound(before) and str(event[7]) == str(before[8])
    after = rows.get(seq + 1)
    return linked and (after is None or str(after[7]) == str(event[8]))


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def file_name_for(kind: str, project: str, period: int | None, fmt: str) -> str:
    """e.g. ``SP-FM-2026-01-pdd.pdf``, ``SP-FM-2026-01-monitoring_report-p2.docx``."""
    suffix = "" if period is None else f"-p{period}"
    return f"{_safe_name(project)}-{kind}{suffix}.{fmt}"


def store_document(
    session: Session, actor: Actor, *, kind: str, project: str, period: int | None, fmt: str,
    content: bytes, audience: str, file_name: str | None = None,
) -> DocumentInfo:  # fmt: skip
    """Keep one generated file: its row (bytes, SHA-256, size) and its audit event
    ``document.generated`` with the same hash, in the caller's transaction."""
    if kind not in DOCUMENT_KINDS or fmt not in DOCUMENT_FORMATS:
        raise BadDocumentRequest(
            f"未知的文件种类或格式：{kind} / {fmt}。",
            f"unknown document kind or format: {kind} / {fmt}.",
        )
    digest = sha256_hex(content)
    name = file_name or file_name_for(kind, project, period, fmt)
    now = datetime.now(UTC)
    db = DriverSQL(session)
    row = db.first(
        "INSERT INTO document (kind, project_code, period_no, format, file_name, sha256, size_bytes, "
        "content, audience, generated_by, generated_at) VALUES (:k, :p, :n, :f, :name, :h, :size, "
        f":c, :a, :by, :t) RETURNING {_COLUMNS}",
        {"k": kind, "p": project, "n": period, "f": fmt, "name": name, "h": digest,
         "size": len(content), "c": content, "a": audience, "by": actor.label, "t": now},
    )  # fmt: skip
    assert row is not None
    info = _info(row)
    event = append_event(
        session, actor=actor.label, action="document.generated", entity_type="document",
        entity_id=str(info.id),
        payload={"kind": kind, "project": project, "period": period, "format": fmt,
                 "file_name": name, "sha256": digest, "size_bytes": len(content),
                 "audience": audience},
    )  # fmt: skip
    return _info(row, (event.seq, event.hash))


def _render(doc: Document, fmt: str) -> bytes:
    if fmt == "pdf":
        from registry.documents.pdf_render import render_pdf

        return render_pdf(doc)
    if fmt == "html":
        from registry.documents.pdf_render import render_html

        return render_html(doc).encode("utf-8")
    from registry.documents.docx_render import render_docx

    content: bytes = render_docx(doc)
    return content


def _builder(kind: str, project: str, period: int | None) -> Callable[[Session], Document]:
    if kind == "pdd":
        from registry.documents.pdd import build_pdd

        return lambda s: build_pdd(s, project)
    from registry.documents.monitoring_report import build_monitoring_report

    assert period is not None
    return lambda s: build_monitoring_report(s, project, period)


def _checked_formats(kind: str, formats: Iterable[str] | None) -> tuple[str, ...]:
    allowed = FORMATS_OF[kind]
    wanted = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip())) if formats else allowed  # fmt: skip
    wrong = [f for f in wanted if f not in allowed]
    if wrong or not wanted:
        shown = ", ".join(wrong) or "无 none"
        raise BadDocumentRequest(
            f"{KIND_NAMES[kind]}没有这些格式：{shown}；可选：{', '.join(allowed)}。",
            f"a {kind} is not written as {shown}; it can be: {', '.join(allowed)}.",
        )
    return wanted


@dataclass(frozen=True)
class BuiltFile:
    """A document rendered in one format, not yet stored."""

    kind: str
    project: str
    period: int | None
    format: str
    audience: str
    content: bytes


def build_files(
    session: Session, actor: Actor, kind: str, project: str, period: int | None = None,
    formats: Iterable[str] | None = None,
) -> list[BuiltFile]:  # fmt: skip
    """Build a project's document of ``kind`` and render it in ``formats`` (default: every
    format of the kind) — admin, bureau staff; reads only, so that a long rendering holds no
    write lock. A monitoring report needs its ``period``."""
    from registry.projects.core import find_project

    require_any_role(actor, GENERATORS, "生成项目文件 / generate project documents")
    if kind not in FORMATS_OF:
        raise BadDocumentRequest(
            f"未知的文件种类 {kind!r}；可选：{', '.join(FORMATS_OF)}。",
            f"unknown document kind {kind!r}; it can be: {', '.join(FORMATS_OF)}.",
        )
    if kind == "monitoring_report" and period is None:
        raise BadDocumentRequest(
            "监测报告需要监测期编号（--period）。",
            "a monitoring report needs its period (--period).",
        )
    wanted = _checked_formats(kind, formats)
    found = find_project(session, project)
    audience = audience_for(kind, str(found.status))
    if kind == "workbook":
        from registry.documents.workbook import make_workbook

        made = make_workbook(session, project, period)  # its period: the one asked, or the latest
        return [BuiltFile(kind, project, made.period, "xlsx", audience, made.content)]
    doc = _builder(kind, project, period)(session)
    resolved = period if period is not None else doc.period  # the period the builder chose
    return [BuiltFile(kind, project, resolved, fmt, audience, _render(doc, fmt)) for fmt in wanted]


def store_files(session: Session, actor: Actor, files: Iterable[BuiltFile]) -> list[DocumentInfo]:
    """Store built files, each with its audit event, in the caller's transaction."""
    require_any_role(actor, GENERATORS, "生成项目文件 / generate project documents")
    return [
        store_document(
            session,
            actor,
            kind=f.kind,
            project=f.project,
            period=f.period,
            fmt=f.format,
            content=f.content,
            audience=f.audience,
        )
        for f in files
    ]


def generate_documents(
    session: Session, actor: Actor, kind: str, project: str, period: int | None = None,
    formats: Iterable[str] | None = None,
) -> list[DocumentInfo]:  # fmt: skip
    """:func:`build_files` and :func:`store_files` in one transaction."""
    return store_files(session, actor, build_files(session, actor, kind, project, period, formats))


READERS = (Role.ADMIN, Role.BUREAU_STAFF, Role.VERIFIER)


def _is_staff(actor: Actor | None) -> bool:
    """Whether ``actor`` may read staff-only documents: bureau staff, and the verification
    bodies (审定/核证机构) — the design document of a project under validation and the
    calculation workbooks are written for them to check. They may read, not generate."""
    return actor is not None and actor.has(*READERS)


def _organisation_of(label: str) -> str:
    """``user@organisation`` → ``organisation``: what a public answer says of who generated a
    document (the organisation, never a staff member's login)."""
    return label.rpartition("@")[2] or label


def _for_viewer(info: DocumentInfo, actor: Actor | None) -> DocumentInfo:
    if _is_staff(actor):
        return info
    return replace(info, generated_by=_organisation_of(info.generated_by))


def list_documents(
    session: Session, project: str, actor: Actor | None = None
) -> list[DocumentInfo]:
    """A project's stored documents, newest first: the public ones for anyone (who generated
    them named by organisation only), every one for bureau staff and verifiers."""
    db = DriverSQL(session)
    where = "" if _is_staff(actor) else " AND audience = 'public'"
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM document WHERE project_code = :p{where} ORDER BY id DESC",
        {"p": project},
    )
    return [_for_viewer(_info(r), actor) for r in rows]


def get_document(
    session: Session, doc_id: int, actor: Actor | None = None
) -> tuple[DocumentInfo, bytes]:
    """One stored document and its bytes. A staff-only document is "not found" for anyone but
    bureau staff and verifiers (its existence is not revealed). Bytes whose SHA-256 is not the
    one in the row and in its audit event are never served (:class:`DocumentTampered`)."""
    db = DriverSQL(session)
    row = db.first(f"SELECT {_COLUMNS}, content FROM document WHERE id = :i", {"i": doc_id})
    if row is None or (row[8] != "public" and not _is_staff(actor)):
        raise DocumentNotFound(f"没有编号为 {doc_id} 的项目文件。", f"no document number {doc_id}.")
    content = bytes(row[-1])
    audit = _audit_of(db, doc_id)
    recorded = None if audit is None else json.loads(audit[2]).get("sha256")
    if sha256_hex(content) != str(row[6]) or recorded != str(row[6]):
        raise DocumentTampered(
            f"项目文件 #{doc_id} 的存储内容与登记的 SHA-256 不符（存储副本已被改动），不予提供下载；"
            "请通知登记簿管理员。",
            f"document #{doc_id}'s stored bytes do not match the SHA-256 recorded for it (the "
            "stored copy was altered); it is not served — tell the registry's administrator.",
        )  # fmt: skip
    info = _info(row[:-1], None if audit is None else audit[:2])
    return _for_viewer(info, actor), content


def _issued_by_audit(db: DriverSQL, digest: str) -> int | None:
    """The sequence number of a sound ``document.generated`` event that recorded ``digest``
    (whatever became of the document row), or None."""
    for seq, payload in db.rows(
        "SELECT id, payload FROM audit_event WHERE action = 'document.generated' "
        "AND payload LIKE :p ORDER BY id",
        {"p": f'%"sha256":"{digest}"%'},
    ):
        if json.loads(str(payload)).get("sha256") == digest and _event_in_chain(db, int(seq)):
            return int(seq)
    return None


def verify_document(session: Session, file: bytes | Path) -> Verification:
    """Which registry document ``file`` (its bytes, or a path) is: found by its SHA-256 among the
    stored documents, and only if the stored bytes still have that hash and the audit event that
    recorded it carries the same hash and is a sound link of the hash chain (its own hash
    recomputes, it links to the event before it). A file whose row is gone or altered but whose
    hash a sound ``document.generated`` event recorded is "issued, but the stored copy is
    missing or altered"; anything else is "unknown or altered". Anyone may ask (the answer
    names the generating organisation, not the staff member)."""
    data = file.read_bytes() if isinstance(file, Path) else file
    digest = sha256_hex(data)
    db = DriverSQL(session)
    for row in db.rows(
        f"SELECT {_COLUMNS}, content FROM document WHERE sha256 = :h ORDER BY id", {"h": digest}
    ):
        audit = _audit_of(db, int(row[0]))
        if audit is None or json.loads(audit[2]).get("sha256") != digest:
            continue
        if sha256_hex(bytes(row[-1])) != digest or not _event_in_chain(db, audit[0]):
            continue
        info = _for_viewer(_info(row[:-1], audit[:2]), None)
        period = "" if info.period is None else f"第 {info.period} 监测期，"
        period_en = "" if info.period is None else f", period {info.period}"
        return Verification(
            digest, len(data), True, info,
            f"本系统签发的文件：{KIND_NAMES[info.kind]}，项目 {info.project}，{period}"
            f"{info.generated_at} 由 {info.generated_by} 生成（审计事件 #{info.audit_seq}）。",
            f"issued by this registry: {info.kind} of project {info.project}{period_en}, generated "
            f"{info.generated_at} by {info.generated_by} (audit event #{info.audit_seq}).",
            info.audit_seq,
        )  # fmt: skip
    seq = _issued_by_audit(db, digest)
    if seq is not None:
        return Verification(
            digest, len(data), True, None,
            f"本系统签发过此文件（审计事件 #{seq} 记录了它的 SHA-256），但登记簿中存储的副本已缺失或被改动；"
            "请通知登记簿管理员。",
            f"issued by this registry (audit event #{seq} recorded its SHA-256), but the stored "
            "copy is missing or altered — tell the registry's administrator.",
            seq,
        )  # fmt: skip
    return Verification(
        digest, len(data), False, None,
        "未知或已被改动：本系统从未签发 SHA-256 为此值的文件。",
        "unknown or altered: this registry never issued a file with this SHA-256.",
    )  # fmt: skip
