"""The eco-label catalogue (生态标签目录), table ``eco_label``.

An entry (code, Chinese and English name, kind, issuing organisation, evidence document,
criteria, validity) is added by an admin with the evidence document's file: the registry keeps
its name and SHA-256, not the file. An entry is never edited: to change one, revoke it and add
another code. Revoking (admin, with a reason) marks the entry revoked; the service then detaches
it from the live credits (:func:`registry.labels.service.revoke_label`). Every change writes an
audit event in the same transaction.

The starter catalogue (``data/starter_catalogue.json``) holds 水源涵养, 生物多样性, 乡村振兴,
森林康养 and 国家储备林 with criteria built from what the inventory holds; their thresholds
say where they come from or that they are unverified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event, canonical_json
from registry.db import DriverSQL
from registry.errors import BadLabelInput, LabelConflict, UnknownLabel
from registry.labels.criteria import check_criteria, unverified_of
from registry.labels.tables import LABEL_KINDS
from registry.results import Result
from registry.vocabulary import Role

__all__ = [
    "STARTER_CATALOGUE",
    "LabelEntry",
    "add_label",
    "get_label",
    "label_names",
    "label_unverified_notes",
    "list_labels",
    "read_catalogue_file",
    "sha256_of_file",
]

STARTER_CATALOGUE = Path(__file__).parent / "data" / "starter_catalogue.json"
CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
_COLUMNS = ("code, name_zh, name_en, kind, issuer, evidence_name, evidence_sha256, criteria_json, "
            "valid_from, valid_to, status, revoked_at, revoked_by, revoke_reason, created_by, created_at")  # fmt: skip


@dataclass(frozen=True)
class LabelEntry(Result):
    """A catalogue entry as stored; ``unverified`` lists its thresholds flagged unverified."""

    code: str
    name_zh: str
    name_en: str
    kind: str
    issuer: str
    evidence_name: str
    evidence_sha256: str
    criteria: dict[str, Any]
    valid_from: str
    valid_to: str | None
    status: str
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None
    created_by: str
    created_at: str
    unverified: tuple[str, ...]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _entry(row: tuple[Any, ...]) -> LabelEntry:
    criteria = json.loads(row[7])
    return LabelEntry(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), str(row[6]),
        criteria, str(_text(row[8]))[:10], None if row[9] is None else str(_text(row[9]))[:10],
        str(row[10]), _text(row[11]), row[12], row[13], str(row[14]), str(_text(row[15])),
        unverified_of(criteria),
    )  # fmt: skip


def list_labels(session: Session) -> list[LabelEntry]:
    """Every catalogue entry, by code (active and revoked)."""
    rows = DriverSQL(session).rows(f"SELECT {_COLUMNS} FROM eco_label ORDER BY code")
    return [_entry(r) for r in rows]


def get_label(session: Session, code: str) -> LabelEntry:
    row = DriverSQL(session).first(f"SELECT {_COLUMNS} FROM eco_label WHERE code = :c", {"c": code})
    if row is None:
        raise UnknownLabel(f"标签目录中没有 {code!r}。", f"the label catalogue has no {code!r}.")
    return _entry(row)


def label_names(session: Session, codes: list[str] | tuple[str, ...]) -> dict[str, LabelEntry]:
    """The catalogue entries of ``codes`` that exist (for showing names instead of codes)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    marks = ", ".join(f":c{i}" for i in range(len(wanted)))
    rows = DriverSQL(session).rows(
        f"SELECT {_COLUMNS} FROM eco_label WHERE code IN ({marks})",
        {f"c{i}": c for i, c in enumerate(wanted)},
    )
    return {str(r[0]): _entry(r) for r in rows}


def sha256_of_file(path: Path) -> str:
    """SHA-256 of a file's bytes (64 hex digits)."""
    try:
        digest = hashlib.sha256()
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise BadLabelInput(
            f"无法读取证明文件 {str(path)!r}：{exc.strerror or exc}。",
            f"cannot read the evidence document {str(path)!r}: {exc.strerror or exc}.",
        ) from exc
    return digest.hexdigest()


def read_catalogue_file(path: Path) -> list[dict[str, Any]]:
    """The entries of a catalogue file (JSON: ``{"labels": [...]}``), each checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadLabelInput(
            f"无法读取标签目录文件 {str(path)!r}：{exc}。",
            f"cannot read the label catalogue file {str(path)!r}: {exc}.",
        ) from exc
    entries = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise BadLabelInput(
            f'标签目录文件 {str(path)!r} 须为 {{"labels": [...]}}。',
            f'the label catalogue file {str(path)!r} must be {{"labels": [...]}}.',
        )
    return [check_entry(e, f"{Path(path).name}[{i}]") for i, e in enumerate(entries)]


def _date(value: Any, what: str, where: str) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadLabelInput(
            f"标签 {where} 的 {what} {value!r} 不是 YYYY-MM-DD 日期。",
            f"label {where}: {what} {value!r} is not a date written YYYY-MM-DD.",
        ) from exc


def check_entry(entry: Any, where: str) -> dict[str, Any]:
    """One entry (code, name_zh, name_en, kind, issuer, valid_from, valid_to, criteria), checked;
    a bilingual error names the entry and the field."""
    if not isinstance(entry, dict):
        raise BadLabelInput(f"标签 {where} 应为对象。", f"label {where} must be an object.")
    for name in ("code", "name_zh", "name_en", "kind", "issuer", "valid_from"):
        value = entry.get(name)
        if isinstance(value, date):
            continue
        if not isinstance(value, str) or not value.strip():
            raise BadLabelInput(f"标签 {where} 缺少 {name}。", f"label {where} lacks {name}.")
    code = entry["code"].strip()
    if not set(code) <= CODE_CHARS or not 2 <= len(code) <= 40 or not code[0].isalnum():
        raise BadLabelInput(
            f"标签代码 {code!r} 只能用小写字母、数字、_ 和 -，2–40 个字符，以字母或数字开头。",
            f"label code {code!r} may hold lower-case letters, digits, _ and -, 2–40 characters, "
            "starting with a letter or digit.",
        )
    if entry["kind"] not in LABEL_KINDS:
        raise BadLabelInput(
            f"标签 {code} 的类别 {entry['kind']!r} 无效（可用：{'、'.join(LABEL_KINDS)}）。",
            f"label {code}: kind {entry['kind']!r} is not one of {', '.join(LABEL_KINDS)}.",
        )
    start = _date(entry["valid_from"], "valid_from", code)
    end = (
        None if entry.get("valid_to") in (None, "") else _date(entry["valid_to"], "valid_to", code)
    )
    if end is not None and end < start:
        raise BadLabelInput(
            f"标签 {code} 的有效期结束 {end} 早于开始 {start}。",
            f"label {code}: validity ends {end}, before it starts {start}.",
        )
    try:
        criteria = check_criteria(entry.get("criteria"))
    except BadLabelInput as exc:
        raise BadLabelInput(
            f"标签 {code}：{exc.message_zh}", f"label {code}: {exc.message_en}"
        ) from exc
    return {**entry, "code": code, "valid_from": start, "valid_to": end, "criteria": criteria}


def add_label(
    session: Session, actor: Actor, entry: dict[str, Any], evidence: Path | tuple[str, str]
) -> LabelEntry:
    """Add one entry to the catalogue (admin) with its evidence document — a file, or its
    (name, SHA-256) when the bytes came another way. A code already in the catalogue is refused
    (entries are never edited in place)."""
    require_any_role(actor, (Role.ADMIN,), "添加生态标签 / add an eco-label")
    checked = check_entry(entry, str(entry.get("code", "?")) if isinstance(entry, dict) else "?")
    if isinstance(evidence, tuple):
        evidence_name, digest = evidence[0].strip(), evidence[1]
    else:
        evidence_name, digest = Path(evidence).name, sha256_of_file(evidence)
    if not evidence_name:
        raise BadLabelInput("证明文件须有文件名。", "the evidence document needs a file name.")
    db = DriverSQL(session)
    if db.first("SELECT 1 FROM eco_label WHERE code = :c", {"c": checked["code"]}):
        raise LabelConflict(
            f"标签目录中已有 {checked['code']}：条目不可修改，请撤销后以新代码添加。",
            f"the catalogue already holds {checked['code']}: entries are never edited; revoke it "
            "and add a new code.",
        )
    now = datetime.now(UTC)
    row = {"c": checked["code"], "zh": checked["name_zh"].strip(), "en": checked["name_en"].strip(),
           "k": checked["kind"], "i": checked["issuer"].strip(), "en_": evidence_name,
           "h": digest, "cr": canonical_json(checked["criteria"]), "f": checked["valid_from"],
           "t": checked["valid_to"], "by": actor.label, "at": now}  # fmt: skip
    db.rows(
        "INSERT INTO eco_label (code, name_zh, name_en, kind, issuer, evidence_name, evidence_sha256, "
        "criteria_json, valid_from, valid_to, status, created_by, created_at) VALUES (:c, :zh, :en, :k, "
        ":i, :en_, :h, :cr, :f, :t, 'active', :by, :at)",
        row,
    )  # fmt: skip
    append_event(session, actor=actor.label, action="label.added", entity_type="eco_label",
                 entity_id=checked["code"],
                 payload={"code": checked["code"], "name_zh": row["zh"], "name_en": row["en"],
                          "kind": row["k"], "issuer": row["i"], "evidence_name": row["en_"],
                          "evidence_sha256": digest, "criteria": checked["criteria"],
                          "valid_from": str(row["f"]), "valid_to": None if row["t"] is None else str(row["t"])})  # fmt: skip
    return get_label(session, checked["code"])


def mark_revoked(session: Session, actor: Actor, code: str, reason: str) -> LabelEntry:
    """Mark an active entry revoked (admin; the caller detaches it from the credits)."""
    require_any_role(actor, (Role.ADMIN,), "撤销生态标签 / revoke an eco-label")
    if not reason.strip():
        raise BadLabelInput("撤销标签须写明理由。", "revoking a label needs a reason.")
    found = get_label(session, code)
    if found.status == "revoked":
        raise LabelConflict(
            f"标签 {code} 已于 {found.revoked_at} 撤销。",
            f"label {code} was revoked on {found.revoked_at}.",
        )
    DriverSQL(session).rows(
        "UPDATE eco_label SET status = 'revoked', revoked_at = :t, revoked_by = :by, revoke_reason = :r "
        "WHERE code = :c AND status = 'active'",
        {"t": datetime.now(UTC), "by": actor.label, "r": reason.strip(), "c": code},
    )  # fmt: skip
    append_event(session, actor=actor.label, action="label.revoked", entity_type="eco_label",
                 entity_id=code, payload={"code": code, "reason": reason.strip()})  # fmt: skip
    return get_label(session, code)


def label_display(session: Session, codes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """How certificates show labels: the catalogue's Chinese and English names (the code when
    the catalogue has no such entry), and "已撤销 / revoked since <date>" for a revoked one —
    retired credits keep a label as it stood when they were retired."""
    entries = label_names(session, codes)
    shown = []
    for code in sorted(set(codes)):
        entry = entries.get(code)
        if entry is None:
            shown.append(code)
            continue
        text = f"{entry.name_zh} {entry.name_en}"
        if entry.status == "revoked":
            text += f"（已撤销 / revoked since {str(entry.revoked_at)[:10]}）"
        shown.append(text)
    return tuple(shown)


def label_unverified_notes(session: Session, codes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What is unverified about labels' criteria, for any output that uses the labels (a label
    premium in a valuation, a certificate): one bilingual note per threshold flagged
    ``"unverified": true`` in a label's criteria (:func:`~registry.labels.criteria.unverified_of`),
    by code; a code not in the catalogue gets a note that its criteria are unknown. Empty when
    every threshold states its source."""
    entries = label_names(session, codes)
    notes: list[str] = []
    for code in sorted(set(codes)):
        entry = entries.get(code)
        if entry is None:
            notes.append(f"标签 {code} 不在标签目录中，判定条件不明 / label {code} is not in the "
                         "catalogue: its criteria are unknown")  # fmt: skip
            continue
        notes.extend(
            f"标签 {code}（{entry.name_zh}）的判定阈值未经核实：{u} / the threshold of label "
            f"{code} ({entry.name_en}) is unverified: {u}"
            for u in entry.unverified
        )
    return tuple(notes)
