"""Owners' identities (private) and the link of a forest owner's user to its owner.

An identity file (CSV or XLSX, one row per owner) gives each owner's name — which must be a
registered owner — its resident ID number (checked by GB 11643's check character) or, for a
collective, state farm or company, its unified social credit code (GB 32100's check
character), the bank and the bank card number (Luhn-checked), and optionally a phone number.
Every row is checked first; when any row is bad, the import is refused naming each bad row
and why, and nothing is written. A re-import replaces an owner's identity (upsert by owner).
The audit event holds the counts, the SHA-256 of the file and each owner added or changed (its
id, which fields changed and the last 4 digits of its card), never a full number.

A re-import never redirects a roster already approved: the approval froze each payee's identity
into the roster's lines (:func:`registry.compensation.rosters.approve_roster`) and the bank
file pays that snapshot. Replacing the identity of an owner who is in an approved, unpaid
roster is allowed (a lost card is replaced this way) but the event lists those owners under
``in_unpaid_rosters``: that roster still pays the approved card, and paying the new one needs a
new roster (the bureau's decision, recorded).

Accepted column names (Chinese or English): 姓名/权利人/name, 身份证号/id_number,
统一社会信用代码/credit_code, 开户行/bank_name, 银行卡号/bank_card, 电话/phone."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.compensation.compensation_tables import (
    owner_identity,
    owner_user_link,
    roster,
    roster_line,
)
from registry.compensation.identity import check_bank_card, check_resident_id
from registry.errors import IdentityFileRejected, Invalid, NotFound, RegistryError
from registry.models import Owner, OwnerKind
from registry.organisations import check_credit_code
from registry.user_tables import app_user
from registry.vocabulary import Role

__all__ = [
    "IdentityImport",
    "import_identities",
    "link_owner",
    "linked_owner",
    "read_identity_file",
]

COLUMNS = {
    "name": ("姓名", "权利人", "name", "owner"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "credit_code": ("统一社会信用代码", "credit_code"),
    "bank_name": ("开户行", "开户银行", "bank_name", "bank"),
    "bank_card": ("银行卡号", "卡号", "bank_card", "card"),
    "phone": ("电话", "联系电话", "phone"),
}
STAFF = (Role.BUREAU_STAFF, Role.ADMIN)


@dataclass(frozen=True)
class IdentityImport:
    """What an import did: rows read, owners added and replaced, the file's SHA-256."""

    rows: int
    added: int
    replaced: int
    sha256: str
    changed: int = 0
    in_unpaid_rosters: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "added": self.added, "replaced": self.replaced,
                "changed": self.changed, "sha256": self.sha256,
                "in_unpaid_rosters": list(self.in_unpaid_rosters)}  # fmt: skip


def read_identity_file(data: bytes, filename: str) -> pd.DataFrame:
    """The file's rows as text (leading zeros and the X of an ID kept), columns renamed to the
    canonical names; refused when unreadable or a required column is missing."""
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            frame = pd.read_excel(BytesIO(data), dtype=str)
        else:
            frame = pd.read_csv(BytesIO(data), dtype=str, encoding="utf-8-sig")
    except Exception as exc:  # pandas raises many kinds for a file it cannot read
        raise Invalid(f"无法读取身份信息文件 {filename}：{exc}",
                      f"cannot read the identity file {filename}: {exc}") from exc  # fmt: skip
    rename: dict[str, str] = {}
    for canonical, names in COLUMNS.items():
        for column in frame.columns:
            if str(column).strip().lower() in names:
                rename[column] = canonical
    frame = frame.rename(columns=rename)
    missing = [c for c in ("name", "bank_name", "bank_card") if c not in frame.columns]
    if "id_number" not in frame.columns and "credit_code" not in frame.columns:
        missing.append("id_number")
    if missing:
        raise Invalid(
            f"身份信息文件缺少列：{', '.join(missing)}（可用列名：{COLUMNS}）。",
            f"the identity file lacks the columns: {', '.join(missing)}.",
        )
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame.fillna("")


def _check_row(
    row: Any, owners: dict[str, tuple[int, str]]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The row's checked values and its problems (zh, en)."""
    problems: list[tuple[str, str]] = []
    name = str(row["name"]).strip()
    found = owners.get(name)
    values: dict[str, Any] = {}
    if not name:
        problems.append(("姓名为空", "the name is empty"))
    elif found is None:
        problems.append((f"权利人 {name} 未登记", f"owner {name} is not registered"))
    id_number, credit_code = str(row["id_number"]).strip(), str(row["credit_code"]).strip()
    if id_number:
        try:
            values["id_kind"], values["id_number"] = "resident_id", check_resident_id(id_number)
        except RegistryError as exc:
            problems.append((exc.message_zh, exc.message_en))
    elif credit_code:
        if found is not None and found[1] == OwnerKind.HOUSEHOLD.value:
            problems.append(("农户应填写身份证号，而非统一社会信用代码",
                             "a household gives its resident ID number, not a credit code"))  # fmt: skip
        try:
            values["id_kind"], values["id_number"] = "credit_code", check_credit_code(credit_code)
        except RegistryError:  # its message echoes the code: say it without the number
            problems.append(("统一社会信用代码格式或校验码不符（GB 32100）",
                             "the unified social credit code is malformed or its check character is wrong (GB 32100)"))  # fmt: skip
    else:
        problems.append(("缺少身份证号或统一社会信用代码",
                         "neither a resident ID number nor a credit code is given"))  # fmt: skip
    try:
        values["bank_card"] = check_bank_card(str(row["bank_card"]))
    except RegistryError as exc:
        problems.append((exc.message_zh, exc.message_en))
    bank = str(row["bank_name"]).strip()
    if not bank:
        problems.append(("开户行为空", "the bank name is empty"))
    values["bank_name"] = bank
    values["phone"] = str(row["phone"]).strip() or None
    if found is not None:
        values["owner_id"] = found[0]
    return values, problems


def import_identities(session: Session, actor: Actor, data: bytes, filename: str) -> IdentityImport:
    """Import an identity file (bureau staff or admin): all rows checked, then written, or
    nothing written (:class:`IdentityFileRejected` naming each bad row). Audit event
    ``compensation.identities`` with counts and the file's SHA-256."""
    require_any_role(actor, STAFF, "导入权利人身份信息 / import owners' identities")
    frame = read_identity_file(data, Path(filename).name)
    found = session.execute(sa.select(col(Owner.id), col(Owner.name), col(Owner.kind))).all()
    owners = {str(n): (cast(int, i), str(k)) for i, n, k in found}
    checked: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    seen: dict[int, int] = {}
    for i, row in enumerate(frame.to_dict(orient="records")):  # row: column → text
        line = i + 2  # the spreadsheet's row: row 1 holds the headers
        values, problems = _check_row({str(k): v for k, v in row.items()}, owners)
        owner_id = values.get("owner_id")
        if owner_id is not None and owner_id in seen:
            problems.append((f"与第 {seen[owner_id]} 行重复", f"repeats row {seen[owner_id]}"))
        if owner_id is not None:
            seen.setdefault(owner_id, line)
        for zh, en in problems:
            bad.append((line, zh, en))
        checked.append(values)
    if not checked:
        raise IdentityFileRejected("身份信息文件没有数据行。", "the identity file has no rows.", [])
    if bad:
        rows_zh = "；".join(f"第 {n} 行：{zh}" for n, zh, _ in bad)
        rows_en = "; ".join(f"row {n}: {en}" for n, _, en in bad)
        raise IdentityFileRejected(
            f"身份信息文件有 {len({n for n, _, _ in bad})} 行有误，未导入任何数据。{rows_zh}",
            f"{len({n for n, _, _ in bad})} rows of the identity file are wrong; nothing was "
            f"imported. {rows_en}",
            bad,
        )
    existing = {int(r.owner_id): r for r in session.execute(sa.select(owner_identity)).all()}
    at = datetime.now(UTC)
    added = replaced = 0
    changes: list[dict[str, Any]] = []
    for values in checked:
        record = {**values, "updated_at": at, "updated_by": actor.label}
        before = existing.get(values["owner_id"])
        fields = [k for k in _FIELDS if before is None or getattr(before, k) != values[k]]
        if fields:
            changes.append({"owner_id": values["owner_id"],
                            "change": "added" if before is None else "replaced",
                            "fields": fields, "card_last4": values["bank_card"][-4:]})  # fmt: skip
        if before is not None:
            session.execute(owner_identity.update()
                            .where(owner_identity.c.owner_id == values["owner_id"])
                            .values(**record))  # fmt: skip
            replaced += 1
        else:
            session.execute(owner_identity.insert().values(**record))
            added += 1
    pending = _in_unpaid_rosters(
        session, [c["owner_id"] for c in changes if c["change"] == "replaced"]
    )
    digest = hashlib.sha256(data).hexdigest()
    append_event(session, actor=actor.label, action="compensation.identities",
                 entity_type="owner_identity", entity_id=digest[:16],
                 payload={"rows": len(checked), "added": added, "replaced": replaced,
                          "sha256": digest, "owners": changes,
                          "in_unpaid_rosters": pending})  # fmt: skip
    return IdentityImport(len(checked), added, replaced, digest, len(changes), tuple(pending))


_FIELDS = ("id_kind", "id_number", "bank_name", "bank_card", "phone")


def _in_unpaid_rosters(session: Session, owner_ids: list[int]) -> list[int]:
    """Of these owners, those with a line in an approved, not yet paid roster (their roster
    pays the identity frozen at its approval)."""
    if not owner_ids:
        return []
    found = session.execute(
        sa.select(roster_line.c.owner_id).distinct()
        .join(roster, roster.c.id == roster_line.c.roster_id)
        .where(roster.c.status == "approved", roster_line.c.owner_id.in_(owner_ids))
    ).scalars()  # fmt: skip
    return sorted(int(i) for i in found)


def link_owner(session: Session, actor: Actor, owner_name: str, username: str) -> dict[str, Any]:
    """Link a forest owner's user to an owner (admin): the user then sees that owner's
    payments. A user speaks for one owner; linking again moves the link. Audit event
    ``compensation.owner_link``."""
    require_any_role(actor, (Role.ADMIN,), "关联林权权利人与用户 / link an owner to a user")
    owner_id = session.execute(
        sa.select(col(Owner.id)).where(col(Owner.name) == owner_name)
    ).scalar()
    if owner_id is None:
        raise NotFound(f"权利人 {owner_name} 未登记。", f"owner {owner_name} is not registered.")
    user = session.execute(
        sa.select(app_user.c.id, app_user.c.roles).where(app_user.c.username == username)
    ).first()
    if user is None:
        raise NotFound(f"没有用户 {username}。", f"no user {username}.")
    if Role.FOREST_OWNER.value not in str(user.roles).split(","):
        raise Invalid(f"用户 {username} 没有 forest_owner（林权权利人）角色。",
                      f"user {username} does not hold the forest_owner role.")  # fmt: skip
    session.execute(owner_user_link.delete().where(owner_user_link.c.user_id == user.id))
    session.execute(owner_user_link.insert().values(
        user_id=user.id, owner_id=owner_id, linked_by=actor.label, linked_at=datetime.now(UTC)))  # fmt: skip
    append_event(session, actor=actor.label, action="compensation.owner_link",
                 entity_type="app_user", entity_id=username, payload={"owner_id": owner_id})  # fmt: skip
    return {"user": username, "owner": owner_name, "owner_id": owner_id}


def linked_owner(session: Session, actor: Actor) -> int:
    """The owner a forest owner's user speaks for; refused for other users or no link."""
    require_any_role(actor, (Role.FOREST_OWNER,), "查看本人的补偿款 / see one's own payments")
    owner_id = None
    if actor.user_id is not None:
        owner_id = session.execute(sa.select(owner_user_link.c.owner_id)
                                   .where(owner_user_link.c.user_id == actor.user_id)).scalar()  # fmt: skip
    if owner_id is None:
        raise NotFound(f"用户 {actor.name} 尚未关联林权权利人。",
                       f"user {actor.name} is not linked to an owner.")  # fmt: skip
    return int(owner_id)
